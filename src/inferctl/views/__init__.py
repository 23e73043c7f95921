"""What the live views show, as data: the terminal's (``status --watch``, ``nodes --watch``, drawn with rich in
cli/) and the web console's (drawn as HTML in console/). Pure: target reports in, rows and numbers out; no rich,
no HTML, no I/O.

    load     a status report -> per-model load rows; output tokens/s from two reads of vLLM's counter
    latency  TTFT quantiles from two reads of vLLM's histogram (the window between them)
    nodes    a node view -> requests against allocatable per resource, and its share's colour
    errors   an exception as the one line a live view shows for a failed refresh
"""
