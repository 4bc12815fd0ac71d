"""Units of work over the repository: a change, its history row, and the domain event published after commit."""
