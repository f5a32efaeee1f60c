"""What each command does, as functions a library user can call: data -> engine -> artifact."""
