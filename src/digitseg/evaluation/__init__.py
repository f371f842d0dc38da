"""The evaluation engine: what is read, how readings are matched and scored."""
