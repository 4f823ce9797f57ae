"""Asterisk: the call flow over FastAGI, the PBX's view over AMI, prompts as audio.

* :mod:`.server` — the threaded FastAGI server ``vaxel serve`` starts (``agi://HOST:4573/incoming``);
* :mod:`.agi` — pyst2's AGI class made to speak res_agi exactly (quoting, HANGUP, 511, 520);
* :mod:`.call` — one call: engine actions to AGI commands, the caller's keys back to the engine;
* :mod:`.queueing` — the centre queue (engine-driven; why is written there);
* :mod:`.mapping` — the pure translations (dial strings, DIALSTATUS, QUEUE_PRIO ...);
* :mod:`.audio`, :mod:`.prompts` — text to 8 kHz WAV with espeak-ng and sox, cached;
* :mod:`.ami`, :mod:`.pbx_events`, :mod:`.dialer`, :mod:`.operators` — AMI: events, presence,
  callbacks with Originate, operators in the queue;
* :mod:`.service` — wiring for ``vaxel serve``; :mod:`.cli` — ``vaxel prompts build``;
* :mod:`.conf` — reads Asterisk config files (the samples in ``config/asterisk``).

pyst2 (``import asterisk``) is imported only inside this package.
"""
