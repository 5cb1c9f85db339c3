from defi import create_app

app = create_app()
