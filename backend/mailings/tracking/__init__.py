"""Opens and clicks (R-ENG-2): signed links, the buffer the public endpoints write to, the drain that
stores events in batches, and the rules that tell a machine's open from a person's.

- `tokens`: what a delivery's open pixel and tracked links carry, signed so the endpoints need no lookup to
  trust them;
- `rewrite`: a message's HTML links turned into tracked ones once per occurrence;
- `buffer`: the endpoints' writes (Redis list, or the database when there is no shared cache) and the drain;
- `machines`: which events privacy proxies and security scanners made.
"""
