"""Thin HTTP routes: validate, authorise, call a store function, record an event, answer."""
