"""Static validation of every file: schemas, references, promtool and amtool."""
