"""OAuth2 credentials: a credential whose value is the access token of a connection to a provider.

``providers`` (the registry and the clients), ``flow`` (connecting: authorization code + PKCE +
state), ``tokens`` (the token endpoint), ``services`` (store, refresh under a row lock, disconnect),
``runtime`` (fresh tokens during a run, one refresh and retry after a 401), ``secrets`` (sealing),
``views``/``urls`` (the pages), ``serializers`` (the API's view of a connection). docs/oauth2.md.
"""
