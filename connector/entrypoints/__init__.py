"""Azure Functions blueprints: thin parse → call → respond."""
