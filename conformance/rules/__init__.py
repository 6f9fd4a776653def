"""Rules: stable ids, statements, sources, levels, and the checks that judge exchanges.

`registry.rule` declares a rule on its check; `catalogue` lists them; `judge` runs the exchange rules
on an exchange; `profiles` applies the errata; `views` reads exchanges for the checks.
"""
