"""The checkout service: the shop's shared server with its own routes."""

import shoplib

ROUTES = {"/cart": lambda: {"cart": []}}

if __name__ == "__main__":
    shoplib.serve("checkout", ROUTES)
