"""HTTP routes. Each module is one API surface; routes parse, call the service and render."""
