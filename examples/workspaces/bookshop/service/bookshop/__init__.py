"""bookshop: a tiny online bookshop API used as a chaosdrill example target.

Built on the standard library's ``ThreadingHTTPServer`` with a synchronous psycopg
connection pool, a Redis read-through cache for the catalogue and Prometheus metrics.
"""

__version__ = "1.0.0"
