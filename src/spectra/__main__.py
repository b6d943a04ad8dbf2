from spectra.cli import app

app(prog_name="spectra")
