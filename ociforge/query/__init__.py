"""Questions about images that read their content but build nothing: installed packages, diffs."""
