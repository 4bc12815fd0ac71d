"""Knowledge base: content, schema, loader, French normalisation, matcher, evaluation."""
