"""The codec key the reference histories recorded since payload encryption are sealed with.

A fixed, public key used for nothing but these fixtures (never a deployment's key): the replay
test must open histories recorded on another day, by another run, with the same key.
"""

from mediaops.keys import Keyring, Keys
from tests.identity_support import KEYS

FIXTURE_CODEC = Keyring((("fixtures1", b"replay fixtures only, no secret!"),))
RECORDING_KEYS = Keys(codec=FIXTURE_CODEC, commands=KEYS.commands)
"""Recording: histories sealed with the fixture key; commands signed with this run's key."""
REPLAY_KEYS = Keys(codec=Keyring((*KEYS.codec.keys, *FIXTURE_CODEC.keys)), commands=KEYS.commands)
"""Replaying: the fixture key opens the recorded payloads (older fixtures are in clear)."""
