"""``inferctl console``: a local web app that shows the platform of the current config, served on 127.0.0.1.

    guard     who may ask: the Host must be this loopback address, the token printed once is exchanged for a
              cookie (HttpOnly, SameSite=Strict), every other request needs that cookie; security headers
    watch     reads the platform every few seconds (status, per-model metrics, nodes) and keeps the last minutes
    charts    small SVG charts drawn on the server (nothing is fetched from elsewhere)
    chat      the playground's proxy: the page sends messages, the console adds the API key and streams back
    benchjobs short bench runs started from the page, their progress, and the saved runs
    app       the Starlette application: pages, fragments that refresh, the JSON routes
    server    binds a free loopback port, prints the address with its token, runs uvicorn until Ctrl-C

Nothing here changes the platform (no up, down or scale). Starlette, uvicorn and Jinja2 come with the ``console``
extra and are imported only when the console runs.
"""
