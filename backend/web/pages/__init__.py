"""The owner pages: generic owner-scoped views and one module per area.

Every object comes through an owner-scoped selector and every write through a service; these views only
translate HTTP to domain calls and back.
"""
