"""Fake platform servers: stateful stand-ins that speak each platform's real HTTP API.

They let the adapters be tested, and `make run` be used, without a real account: tokens expire,
publishing is asynchronous, callbacks are pushed back signed, reply windows close. Faults are
injected per test through `POST /<platform>/__fake__/faults`.

What a platform remembers (followers, drafts, publish jobs, posts, comments, ids, the clock's
offset) can be kept across restarts, kill -9 included: `mediaops fakes` saves each platform's
state in MEDIAOPS_HOME/fakes/<platform>.json (0600) after every change and loads it at start.
Queued faults are not kept; they are a test's instructions, not the platform's state.
"""
