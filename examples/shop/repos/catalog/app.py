"""The catalog service: the shop's shared server with its own routes."""

import shoplib

ROUTES = {"/items": lambda: {"items": ["tea", "cups", "kettle"]}}

if __name__ == "__main__":
    shoplib.serve("catalog", ROUTES)
