"""Worker-side code: the processes that serve ferryman's task queues."""
