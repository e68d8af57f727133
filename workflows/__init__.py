"""One Temporal workflow per process: thin deterministic shells around the deciders in domain/."""
