"""One adapter per platform behind one Protocol: publish, status, inquiries, reply, metrics."""
