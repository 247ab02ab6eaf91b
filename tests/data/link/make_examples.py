"""Write the example inputs of ``matchsim link`` (configs/link/example.toml): made-up people.

    .venv/bin/python tests/data/link/make_examples.py

* ``people.csv``: the left file, records looking for a match, laid out as a case file might be
  (an SSN where known, a free-text home address); accented names, in UTF-8.
* ``people-latin1.csv``: the same records saved in Latin-1 (the encoding test).
* ``records.parquet``: the right file, the records searched, with a structured address.

The rows are chosen so that the irs-2025 policy meets every outcome: TIN matches, a borrowed
number under another name, a number not on file, gated addresses (blank, "UNKNOWN"), an address
that is only a ZIP, address matches, a household of two LOPEZes told apart by first name, and
a father and son both named JOHN SMITH whom nothing tells apart (ambiguous).
"""

from __future__ import annotations

import csv
import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent

# case_id, given_name, family_name, birth_date, ssn, home_address
PEOPLE = [
    ("C001", "Maria", "Gonzalez", "1979-03-14", "531-22-4817", "412 West Liberty Street Apt 3, Reno, NV 89501"),
    ("C002", "José", "Muñoz", "1985-11-02", "531-22-4818", "88 E 2nd St, Reno NV 89501"),
    ("C003", "Ana", "Hernández", "1990-06-21", "602-41-7720", "1500 N Virginia St #12 Reno NV 89503"),
    ("C004", "Luis", "Ramírez", "1972-01-30", "613-55-0192", "230 Keystone Ave, Reno, NV 89503"),
    ("C005", "Rosa", "Castillo", "1988-09-09", "620-11-8834", "FAILED TO PROVIDE 89509"),
    ("C006", "David", "Kim", "1983-12-05", "634-20-9981", "19 Harvard Ave Apt 2, Allston MA 02134"),
    ("C007", "Grace", "Okafor", "1995-04-17", "641-77-2035", ""),
    ("C008", "Pierre", "Jean-Baptiste", "1969-07-04", "655-03-0471", "UNKNOWN"),
    ("C009", "Mei", "Chen", "1992-02-28", "662-84-1100", "1200 SW 5th Ave Apt 808, Portland OR 97204"),
    ("C010", "Thanh", "Nguyen", "1980-10-10", "670-39-5528", "2510 SE Division St Portland OR 97202"),
    ("C011", "Carlos", "Ramirez", "1975-08-19", "690-23-3815", "900 SE Belmont St, Portland OR 97214"),
    ("C012", "Sofía", "Rossi", "1998-01-11", "701-44-8262", "3300 SE Hawthorne Blvd Portland OR 97214"),
    ("C013", "Fatima", "Diallo", "1987-05-23", "688-12-0447", "Portland OR 97232"),
    ("C014", "Juan", "Pérez", "1966-03-03", "723-00-5718", "500 W 2nd St Reno NV 89503"),
    ("C015", "Maria", "Lopez", "1984-06-15", "", "1010 Lake St, Reno, NV 89501"),
    ("C016", "John", "Smith", "", "", "66 Elm St Allston MA 02134"),
    ("C017", "Aminata", "Traoré", "1993-03-08", "", "4200 NE Sandy Blvd Apt 7, Portland, OR 97213"),
    ("C018", "Omar", "Hassan", "1979-07-27", "", "18 Park Dr, Allston MA 02134"),
    ("C019", "Lucía", "Flores", "1990-10-03", "", "245 Arlington Ave Reno NV 89501"),
    ("C020", "Huong", "Tran", "1977-04-14", "", ""),
    ("C021", "Pedro", "Alvarez", "1969-11-11", "", "730 S Wells Ave Reno NV 89509"),
    ("C022", "Yesenia", "Morales", "1996-08-08", "", "Reno NV"),
    ("C023", "Elena", "García", "1991-12-31", "", "12 River Rd Reno NV 89501"),
    ("C024", "Kwame", "Mensah", "1981-02-14", "", "77 Brighton Ave Apt 1 Allston MA 02134"),
    ("C025", "Ingrid", "Johansson", "1974-05-30", "846-12-3390", "901 NW 23rd Ave, Portland, OR 97210"),
    ("C026", "Rafael", "Santos", "1989-07-19", "857-23-4401", "1400 S Virginia St Apt 210 Reno NV 89502"),
    ("C027", "Nadia", "Haddad", "1994-11-25", "", "55 Linden St, Allston, MA 02134"),
    ("C028", "Víctor", "Cruz", "1970-04-02", "868-34-5512", "3 Moana Ln Reno NV 89509"),
    ("C029", "Ayesha", "Khan", "1986-09-12", "", "2222 NE Broadway, Portland OR 97232"),
    ("C030", "Tomás", "Reyes", "1999-12-01", "879-45-6623", "PO BOX 1234 RENO NV 89504"),
]

# record_id, tin, first, last, date_of_birth, address_line, city, state, zip, zip4
RECORDS = [
    (1001, "531224817", "MARIA", "GONZALEZ", "1979-03-14", "412 W LIBERTY ST APT 3", "RENO", "NV", "89501", "2207"),
    (1002, "531224818", "JOSE", "MUNOZ", "1985-11-02", "88 E 2ND ST", "RENO", "NV", "89501", "1120"),
    (1003, "602417720", "ANA", "HERNANDEZ", "1990-06-21", "1500 N VIRGINIA ST APT 12", "RENO", "NV", "89503", "4410"),
    (1004, "613550192", "LUIS", "RAMIREZ", "1972-01-30", "230 KEYSTONE AVE", "RENO", "NV", "89503", None),
    (1005, "620118834", "ROSA", "CASTILLO", "1988-09-09", "77 MOANA LN", "RENO", "NV", "89509", "3301"),
    (1006, "634209981", "DAVID", "KIM", "1983-12-05", "19 HARVARD AVE APT 2", "ALLSTON", "MA", "02134", "1807"),
    (1007, "641772035", "GRACE", "OKAFOR", "1995-04-17", "301 CAMBRIDGE ST", "ALLSTON", "MA", "02134", None),
    (1008, "655030471", "PIERRE", "JEAN-BAPTISTE", "1969-07-04", "45 BRIGHTON AVE APT 5", "ALLSTON", "MA", "02134", "2210"),
    (1009, "662841100", "MEI", "CHEN", "1992-02-28", "1200 SW 5TH AVE APT 808", "PORTLAND", "OR", "97204", "1902"),
    (1010, "670395528", "THANH", "NGUYEN", "1980-10-10", "2510 SE DIVISION ST", "PORTLAND", "OR", "97202", None),
    (1011, "688120447", "FATIMA", "DIALLO", "1987-05-23", "615 NE GLISAN ST APT 4", "PORTLAND", "OR", "97232", "3120"),
    (1012, "690233815", "CARLOS", "MENDOZA", "1975-08-19", "900 SE BELMONT ST", "PORTLAND", "OR", "97214", "2544"),
    (1013, "701448261", "SOFIA", "ROSSI", "1998-01-11", "3300 SE HAWTHORNE BLVD", "PORTLAND", "OR", "97214", None),
    (1014, "712960033", "JUAN", "PEREZ", "1966-03-03", "500 W 2ND ST", "RENO", "NV", "89503", "1015"),
    (1015, "723005718", "ELENA", "GARCIA", "1991-12-31", "12 RIVER RD", "RENO", "NV", "89501", None),
    (1016, "735118902", "MARIA", "LOPEZ", "1984-06-15", "1010 LAKE ST", "RENO", "NV", "89501", "2301"),
    (1017, "735118903", "MARIO", "LOPEZ", "1982-02-02", "1010 LAKE ST", "RENO", "NV", "89501", "2301"),
    (1018, "741226054", "JOHN", "SMITH", "1958-09-30", "66 ELM ST", "ALLSTON", "MA", "02134", None),
    (1019, "741226055", "JOHN", "SMITH", "1986-11-20", "66 ELM ST", "ALLSTON", "MA", "02134", None),
    (1020, "752390017", "AMINATA", "TRAORE", "1993-03-08", "4200 NE SANDY BLVD APT 7", "PORTLAND", "OR", "97213", "4102"),
    (1021, "763401298", "OMAR", "HASSAN", "1979-07-27", "18 PARK DR", "ALLSTON", "MA", "02134", None),
    (1022, "774512389", "LUCIA", "FLORES", "1990-10-03", "245 ARLINGTON AVE", "RENO", "NV", "89501", "1733"),
    (1023, "785623470", "HUONG", "TRAN", "1977-04-14", "3100 SE 82ND AVE", "PORTLAND", "OR", "97266", None),
    (1024, "796734561", "PEDRO", "ALVAREZ", "1969-11-11", "730 S WELLS AVE", "RENO", "NV", "89502", "2811"),
    (1025, "807845652", "YESENIA", "MORALES", "1996-08-08", "1525 E 9TH ST", "RENO", "NV", "89512", None),
    (1026, "818956743", "KWAME", "MENSAH", "1981-02-14", "77 BRIGHTON AVE APT 1", "ALLSTON", "MA", "02134", "2203"),
    (1027, "846123390", "INGRID", "JOHANSSON", "1974-05-30", "901 NW 23RD AVE", "PORTLAND", "OR", "97210", "3011"),
    (1028, "857234401", "RAFAEL", "SANTOS", "1989-07-19", "850 RIVERSIDE DR", "RENO", "NV", "89503", None),
    (1029, "862190044", "NADIA", "HADDAD", "1994-11-25", "55 LINDEN ST APT 3", "ALLSTON", "MA", "02134", None),
    (1030, "868345512", "VICTOR", "CRUZ", "1970-04-02", "3 MOANA LN", "RENO", "NV", "89509", "3300"),
    (1031, "879456623", "TOMAS", "REYES", "1999-12-01", "PO BOX 1234", "RENO", "NV", "89504", "1234"),
    # neighbours: the same surname in the same ZIP, or a near name at the same address
    (1032, "531998120", "JORGE", "GONZALEZ", "1960-01-05", "77 W LIBERTY ST", "RENO", "NV", "89501", None),
    (1033, "662770913", "WEI", "CHEN", "1990-03-03", "1000 SW 5TH AVE APT 12", "PORTLAND", "OR", "97204", None),
    (1034, "741330871", "MARY", "SMITH", "1961-04-22", "66 ELM ST", "ALLSTON", "MA", "02134", None),
    (1035, "612009933", "ROSA", "RAMIREZ", "1974-09-15", "230 KEYSTONE AVE", "RENO", "NV", "89503", None),
    (1036, "774001266", "JOSE", "FLORES", "1988-12-12", "245 ARLINGTON AVE", "RENO", "NV", "89501", "1733"),
    (1037, "690552017", "ISABEL", "MENDOZA", "1978-06-30", "900 SE BELMONT ST", "PORTLAND", "OR", "97214", "2544"),
    (1038, "763400105", "LAYLA", "HASSAN", "1983-08-08", "18 PARK DR", "ALLSTON", "MA", "02134", None),
    # others, in the same ZIP areas
    (1039, "501234987", "EMMA", "WILSON", "1985-02-19", "14 CHESTER ST", "ALLSTON", "MA", "02134", None),
    (1040, "502345098", "NOAH", "BROWN", "1991-07-07", "1800 NE ALBERTA ST", "PORTLAND", "OR", "97211", "4900"),
    (1041, "503456109", "OLIVIA", "DAVIS", "1977-11-30", "600 S CENTER ST", "RENO", "NV", "89501", None),
    (1042, "504567210", "LIAM", "MILLER", "1968-03-25", "2100 SE CLINTON ST", "PORTLAND", "OR", "97202", None),
    (1043, "505678321", "AVA", "MARTINEZ", "1995-10-14", "1010 LAKESIDE DR", "RENO", "NV", "89509", None),
    (1044, "506789432", "LUCAS", "ANDERSON", "1980-06-06", "3000 SE DIVISION ST", "PORTLAND", "OR", "97202", None),
    (1045, "507890543", "MIA", "THOMAS", "1999-01-01", "22 HIGGINS ST", "ALLSTON", "MA", "02134", None),
    (1046, "508901654", "ETHAN", "JACKSON", "1963-12-12", "480 RALSTON ST", "RENO", "NV", "89503", None),
    (1047, "509012765", "CHLOE", "WHITE", "1987-04-04", "700 NW 21ST AVE", "PORTLAND", "OR", "97209", None),
    (1048, "510123876", "SAMUEL", "OKAFOR", "1990-09-09", "301 CAMBRIDGE ST", "ALLSTON", "MA", "02134", None),
]


PEOPLE_COLUMNS = ["case_id", "given_name", "family_name", "birth_date", "ssn", "home_address"]


def records_table() -> pa.Table:
    names = ["record_id", "tin", "first", "last", "dob", "address_line", "city", "state", "zip", "zip4"]
    columns = {n: [row[i] for row in RECORDS] for i, n in enumerate(names)}
    types = {"record_id": pa.int64(), "dob": pa.date32()}
    columns["dob"] = [datetime.date.fromisoformat(d) for d in columns["dob"]]
    return pa.table({n: pa.array(v, types.get(n, pa.string())) for n, v in columns.items()})


def write(folder: Path = HERE) -> None:
    for name, encoding in (("people.csv", "utf-8"), ("people-latin1.csv", "latin-1")):
        with open(folder / name, "w", encoding=encoding, newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")     # quotes only where needed, as most tools do
            writer.writerow(PEOPLE_COLUMNS)
            writer.writerows(PEOPLE)
    pq.write_table(records_table(), folder / "records.parquet", compression="zstd")


if __name__ == "__main__":
    write()
