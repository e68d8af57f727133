"""Side effects for the workflows: each activity is idempotent, so a retry changes nothing twice."""
