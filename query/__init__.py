"""The boolean query language of brands, categories and routing rules (ground layer).

`query.boolean` parses a query and evaluates it on anything `Matchable`; `query.platform_syntax`
compiles a parsed query to X and Reddit search syntax. docs/query-language.md is the reference.
"""
