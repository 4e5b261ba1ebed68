from crosstrack.cli import app

app()
