"""Small helpers for the entry points: config resolvers, printing, instantiation."""
