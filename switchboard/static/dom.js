// Building DOM nodes from data without innerHTML, so no text from the server is ever parsed as HTML.
window.vaxelDom = {
  el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === "class") node.className = value; else node.setAttribute(key, value);
    }
    for (const child of children.flat(Infinity)) node.append(child instanceof Node ? child : String(child ?? ""));
    return node;
  },
};
