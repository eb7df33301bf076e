import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="Dashboard · scriptflow")

with app.setup:
    import marimo as mo


@app.cell
def _():
    mo.md("# scriptflow dashboard")
    return


if __name__ == "__main__":
    app.run()
