"""`digest web`: the archive and its feed over HTTP (Starlette, served by uvicorn).

    app.py      the application: its routes, one list to add to, the archive's own files
                only, and the security headers
    server.py   running it under uvicorn, with our logging and a start-up line

Installed with the web extra (pip install 'digest[web]'); nothing else imports it.
"""
