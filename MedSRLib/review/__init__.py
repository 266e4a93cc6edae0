"""Review of results without Slicer: slice mosaics with label overlays and `medsr report`'s offline HTML."""
