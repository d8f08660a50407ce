"""A local stand-in for `func start`: HTTP triggers, queue triggers on Azurite, timers."""
