"""The SQL surface: crosstrack's datasets as tables over the Postgres wire protocol.

``server`` starts it, ``protocol`` speaks the wire protocol, ``session`` decides what a
statement means, ``translate`` turns a dataset query into the URL API's question,
``pgcatalog`` answers catalogue queries, ``tables`` maps datasets to tables, and ``client``
runs one query for tests and the attack suite.
"""
