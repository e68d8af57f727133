"""The meeting reports as people read them: an HTML page with charts and a PDF with Chinese text."""
