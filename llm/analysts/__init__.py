"""The analyst nodes of the graph: prompts and one node function each (chart, narrative, data,
meta)."""
