"""The server's routers, one module per resource."""
