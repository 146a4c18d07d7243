"""The REST API (functions/api): models.py (what it takes and answers), routes.py (the routes and how
errors are answered), handler.py (the Lambda entry point, bodies read first), openapi.py (the document)."""
