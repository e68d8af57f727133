"""Worker processes and their wiring: task queues, interceptors, the shared data converter."""
