"""The administrators' editors that drive the service: the call flow and phone hours, each with test calls.

They live in ``switchboard`` because a test call runs the engine with the
service's answers (``switchboard.testcall``) and publishing rebuilds prompts.
"""
