"""Readers of the paper's data sets that stay user-placed files: one case per reader, on a small file
written in the source's own format (delimiter, missing marker, header or not, decimal mark, encoding).

The rows imitate the sources' first rows and their quirks: the expected matrices are decoded by hand
(codes of text categories in sorted order), and the loader's output must equal the paper's
preprocessing of them exactly, with NaN exactly at the source's missing cells.
"""

from __future__ import annotations

import numpy as np
import pytest

from nmfexp.data.real import PAPER_DATASETS, REAL_DATASETS, load_real, paper_preprocess

nan = np.nan

# One name per reader of a user-placed file (the four offline data sets have their own tests).
PLACED = [n for n in PAPER_DATASETS if n not in ("heart_disease", "life_expectancy", "auto_mpg", "sleep_data")]


def _load(name, text, tmp_path, monkeypatch, encoding="utf-8"):
    spec = REAL_DATASETS[name]
    (tmp_path / name).mkdir()
    (tmp_path / name / spec.file).write_bytes(text.encode(encoding))
    monkeypatch.setenv("NMFEXP_DATA_DIR", str(tmp_path))
    ds = load_real(name)
    assert ds.meta["origin_kind"] == "file" and ds.meta["file"] == spec.file
    return ds


def _check(ds, columns, raw):
    raw = np.array(raw, dtype=float)
    assert ds.meta["columns"] == columns
    np.testing.assert_array_equal(np.isnan(ds.X), np.isnan(raw))
    np.testing.assert_array_equal(ds.X, paper_preprocess(raw))


def reader(name, text, columns, raw, meta=None):
    """One reader's case, with the reader's name as its id: the file's ``text``, the ``columns`` and ``raw``
    values the loader keeps (before the preprocessing), and ``meta``: a check of ``ds.meta``, or None."""
    return pytest.param(name, text, columns, raw, meta, id=name)


HCC_SURVIVAL = ("1,0,1,0,0,0,0,1,0,1,1,?,?,1,0,137,15,0,1,1,1.53,95,13.7,106.6,1\n"
                "0,?,0,0,0,0,1,1,?,?,0,0,0,1,1,?,?,1,?,1,0.68,?,13,?,1\n"
                "1,1,1,0,1,0,1,1,0,1,0,1,0,1,1,110,10,0,1,2,3.5,49,9.9,91,0\n")
CALIFORNIA_HOUSING = (
    "longitude,latitude,housing_median_age,total_rooms,total_bedrooms,population,households,median_income,"
    "median_house_value,ocean_proximity\n"
    "-122.23,37.88,41.0,880.0,129.0,322.0,126.0,8.3252,452600.0,NEAR BAY\n"
    "-122.16,37.77,47.0,1256.0,,570.0,218.0,4.375,161900.0,NEAR BAY\n"
    "-117.03,32.69,10.0,901.0,163.0,698.0,167.0,4.6648,156100.0,<1H OCEAN\n")
YOUNG_PEOPLE_SURVEY = ("Music,Slow songs or fast songs,Dance,Smoking,Alcohol,Height,Weight,Gender,Left - right handed\n"
                       "5,3,2,never smoked,drink a lot,163,48,female,right handed\n"
                       "4,4,2,tried smoking,drink a lot,163,58,female,right handed\n"
                       "5,5,,former smoker,social drinker,176,,male,left handed\n")

READERS = [
    # UCI arrhythmia.data: comma-separated, no header, '?' = missing, negative ECG amplitudes, class last
    reader("arrhythmia",
           "75,0,190,80,91,193,371,174,121,-16,13,64,-2,?,63,8\n"
           "56,1,165,64,81,174,401,149,39,25,37,-17,31,?,53,6\n"
           "54,0,172,95,138,163,386,185,102,96,34,70,66,23,75,10\n",
           [str(j) for j in range(16)], [
               [75, 0, 190, 80, 91, 193, 371, 174, 121, -16, 13, 64, -2, nan, 63, 8],
               [56, 1, 165, 64, 81, 174, 401, 149, 39, 25, 37, -17, 31, nan, 53, 6],
               [54, 0, 172, 95, 138, 163, 386, 185, 102, 96, 34, 70, 66, 23, 75, 10]],
           lambda meta: meta["n_negative_made_positive"] == 3),  # -16, -17, -2
    # UCI communities.data: no header; state, county, community, communityname, fold, then 123 normalised
    # attributes and the target; '?' = missing (county and community codes are mostly '?')
    reader("communities",
           "8,?,?,Lakewoodcity,1,0.19,0.33,0.02,?,0.2\n"
           "53,?,?,Tukwilacity,1,0.00,0.16,0.12,0.74,0.67\n"
           "24,?,?,Aberdeentown,1,0.00,0.42,0.49,0.56,0.43\n",
           ["5", "6", "7", "8", "9"], [[0.19, 0.33, 0.02, nan, 0.2], [0, 0.16, 0.12, 0.74, 0.67],
                                       [0, 0.42, 0.49, 0.56, 0.43]],
           lambda meta: meta["columns_dropped"][:5] == ["0", "1", "2", "3", "4"]),
    # UCI hcc-data.txt: comma-separated, no header, '?' = missing, integer flags and decimal lab values
    reader("hcc_survival", HCC_SURVIVAL, [str(j) for j in range(25)],
           [[float(v) if v != "?" else nan for v in line.split(",")] for line in HCC_SURVIVAL.splitlines()],
           lambda meta: meta["n_missing"] == HCC_SURVIVAL.count("?") == 10),
    # UCI lung-cancer.data: no header, the class first, nominal attributes as integers 0-3, '?' = missing
    reader("lung_cancer", "1,0,3,0,?,0,2,2,2,1\n1,0,3,3,1,0,3,1,3,1\n2,0,2,3,2,1,3,?,3,2\n",
           [str(j) for j in range(10)], [[1, 0, 3, 0, nan, 0, 2, 2, 2, 1], [1, 0, 3, 3, 1, 0, 3, 1, 3, 1],
                                         [2, 0, 2, 3, 2, 1, 3, nan, 3, 2]]),
    # UCI MI.data: no header, patient ID first (dropped), '?' = missing (many), decimals with a point
    reader("myocardial_infarction",
           "1,77,1,2,1,1,2,?,3,0,4.7,?\n2,55,1,1,0,0,0,0,0,0,3.5,8.9\n3,52,1,0,0,0,2,?,2,?,?,5.2\n",
           [str(j) for j in range(1, 12)], [[77, 1, 2, 1, 1, 2, nan, 3, 0, 4.7, nan],
                                            [55, 1, 1, 0, 0, 0, 0, 0, 0, 3.5, 8.9],
                                            [52, 1, 0, 0, 0, 2, nan, 2, nan, nan, 5.2]]),
    # UCI Nomao.data: no header, an id 'k#l' first, continuous similarities, nominal n/s/m columns,
    # '?' = missing, the label +1/-1 last
    reader("nomao", "0#1,1,0.88235,?,n,1,+1\n1#2,0.5,?,0.6,s,0.75,-1\n2#3,0.25,1,0.4,m,?,+1\n",
           ["1", "2", "3", "5", "6"], [[1, 0.88235, nan, 1, 1], [0.5, nan, 0.6, 0.75, -1], [0.25, 1, 0.4, nan, 1]],
           lambda meta: "4" in meta["columns_dropped"]),  # the nominal column
    # UCI secom.data: space-separated, no header, 'NaN' = missing, sensor readings with many decimals
    reader("secom",
           "3030.93 2564 2187.7333 1411.1265 1.3602 100 NaN 0.1242\n"
           "3095.78 2465.14 2230.4222 1463.6606 0.8294 100 102.3433 0.1247\n"
           "2932.61 2559.94 NaN NaN NaN 100 95.4878 0.1241\n",
           [str(j) for j in range(8)], [[3030.93, 2564, 2187.7333, 1411.1265, 1.3602, 100, nan, 0.1242],
                                        [3095.78, 2465.14, 2230.4222, 1463.6606, 0.8294, 100, 102.3433, 0.1247],
                                        [2932.61, 2559.94, nan, nan, nan, 100, 95.4878, 0.1241]]),
    # UCI wiki4HE.csv: ';'-separated with a header, answers coded as integers, '?' = missing
    reader("wiki4he",
           "AGE;GENDER;DOMAIN;PhD;YEARSEXP;UNIVERSITY;UOC_POSITION;OTHER_POSITION;OTHERSTATUS;USERWIKI;PU1\n"
           "40;0;2;1;14;1;2;?;?;0;4\n42;0;5;1;18;1;2;?;?;0;2\n37;0;4;1;13;1;3;?;?;0;?\n",
           ["AGE", "GENDER", "DOMAIN", "PhD", "YEARSEXP", "UNIVERSITY", "UOC_POSITION", "USERWIKI", "PU1"],
           [[40, 0, 2, 1, 14, 1, 2, 0, 4], [42, 0, 5, 1, 18, 1, 2, 0, 2], [37, 0, 4, 1, 13, 1, 3, 0, nan]],
           # OTHER_POSITION and OTHERSTATUS: '?' on every row
           lambda meta: meta["n_cols_dropped_all_missing"] == 2),
    # Kaggle HousingData.csv (altavish): comma, header, 'NA' = missing
    reader("boston_housing",
           "CRIM,ZN,INDUS,CHAS,NOX,RM,AGE,DIS,RAD,TAX,PTRATIO,B,LSTAT,MEDV\n"
           "0.00632,18,2.31,0,0.538,6.575,65.2,4.09,1,296,15.3,396.9,4.98,24\n"
           "0.02731,0,7.07,0,0.469,6.421,78.9,4.9671,2,242,17.8,396.9,9.14,21.6\n"
           "0.08829,12.5,7.87,NA,0.524,6.012,66.6,5.5605,5,311,15.2,395.6,NA,22.9\n",
           "CRIM,ZN,INDUS,CHAS,NOX,RM,AGE,DIS,RAD,TAX,PTRATIO,B,LSTAT,MEDV".split(","), [
               [0.00632, 18, 2.31, 0, 0.538, 6.575, 65.2, 4.09, 1, 296, 15.3, 396.9, 4.98, 24],
               [0.02731, 0, 7.07, 0, 0.469, 6.421, 78.9, 4.9671, 2, 242, 17.8, 396.9, 9.14, 21.6],
               [0.08829, 12.5, 7.87, nan, 0.524, 6.012, 66.6, 5.5605, 5, 311, 15.2, 395.6, nan, 22.9]]),
    # Kaggle sunspot_data.csv: an unnamed row-number column, -1 (and -1.0) = missing, Indicator dropped
    reader("daily_sunspots",
           ",Year,Month,Day,Date In Fraction Of Year,Number of Sunspots,Standard Deviation,Observations,Indicator\n"
           "0,1818,1,1,1818.001,-1,-1.0,0,1\n1,1818,1,8,1818.021,65,10.2,1,1\n"
           "73000,2018,11,1,2018.836,12,1.5,31,0\n",
           ["Year", "Month", "Day", "Date In Fraction Of Year", "Number of Sunspots", "Standard Deviation",
            "Observations"], [[1818, 1, 1, 1818.001, nan, nan, 0], [1818, 1, 8, 1818.021, 65, 10.2, 1],
                              [2018, 11, 1, 2018.836, 12, 1.5, 31]]),
    # Kaggle housing.csv (camnugent): comma, header, empty total_bedrooms = missing, ocean_proximity text
    reader("california_housing", CALIFORNIA_HOUSING, CALIFORNIA_HOUSING.splitlines()[0].split(","), [
        [-122.23, 37.88, 41, 880, 129, 322, 126, 8.3252, 452600, 2],  # '<1H OCEAN' = 1, 'NEAR BAY' = 2
        [-122.16, 37.77, 47, 1256, nan, 570, 218, 4.375, 161900, 2],
        [-117.03, 32.69, 10, 901, 163, 698, 167, 4.6648, 156100, 1]]),
    # Kaggle aug_train.csv: comma, header, empty = missing, experience '>20'/'<1', last_new_job '>4'/'never'
    reader("hr_analytics",
           "enrollee_id,city,city_development_index,gender,relevent_experience,enrolled_university,education_level,"
           "major_discipline,experience,company_size,company_type,last_new_job,training_hours,target\n"
           "8949,city_103,0.92,Male,Has relevent experience,no_enrollment,Graduate,STEM,>20,,,1,36,1.0\n"
           "29725,city_40,0.7759999999999999,Male,No relevent experience,no_enrollment,Graduate,STEM,15,50-99,"
           "Pvt Ltd,>4,47,0.0\n"
           "11561,city_21,0.624,,No relevent experience,Full time course,Graduate,STEM,<1,10/49,,never,83,0.0\n",
           ["city", "city_development_index", "gender", "relevent_experience", "enrolled_university",
            "education_level", "major_discipline", "experience", "company_size", "company_type", "last_new_job",
            "training_hours", "target"], [
               [1, 0.92, 1, 1, 2, 1, 1, 21, nan, nan, 1, 36, 1],
               [3, 0.7759999999999999, 1, 2, 2, 1, 1, 15, 2, 1, 5, 47, 0],
               [2, 0.624, nan, 2, 1, 1, 1, 0, 1, nan, 0, 83, 0]]),  # '10/49' < '50-99'; city_103 < city_21 < city_40
    # Kaggle responses.csv: comma, header of long questions, answers 1-5, a few text columns, empty = missing
    reader("young_people_survey", YOUNG_PEOPLE_SURVEY, YOUNG_PEOPLE_SURVEY.splitlines()[0].split(","), [
        [5, 3, 2, 2, 1, 163, 48, 1, 2], [4, 4, 2, 3, 1, 163, 58, 1, 2], [5, 5, nan, 1, 2, 176, nan, 2, 1]]),
    # UCI crx.data: no header, '?' = missing, text categories (codes), zero-padded integers, the class +/- last
    reader("credit_approval",
           "b,30.83,0,u,g,w,v,1.25,t,t,01,f,g,00202,0,+\n"
           "a,58.67,4.46,u,g,q,h,3.04,t,t,06,f,g,00043,560,+\n"
           "?,24.50,0.5,u,g,q,h,1.5,t,f,0,f,g,?,824,-\n",
           [str(j) for j in range(16)], [
               [2, 30.83, 0, 1, 1, 2, 2, 1.25, 1, 2, 1, 1, 1, 202, 0, 1],
               [1, 58.67, 4.46, 1, 1, 1, 1, 3.04, 1, 2, 6, 1, 1, 43, 560, 1],
               [nan, 24.5, 0.5, 1, 1, 1, 1, 1.5, 1, 1, 0, 1, 1, nan, 824, 2]]),  # '+' < '-' in sorted order
    # The paper's 'MTS library' could not be identified: the reader takes a comma-separated export with a
    # header, empty = missing, text columns as codes. This checks that contract, not a source's format.
    reader("mts_library", "branch,loans,visitors,hours\nnorth,120,,40\nsouth,,310,38\nnorth,95,280,\n",
           ["branch", "loans", "visitors", "hours"], [[1, 120, nan, 40], [2, nan, 310, 38], [1, 95, 280, nan]]),
    # MoH Malaysia cases_malaysia.csv: comma, header, ISO dates (dropped), cluster columns empty in early rows
    reader("malaysia_covid19",
           "date,cases_new,cases_import,cases_recovered,cases_active,cases_cluster,cluster_import,cluster_religious\n"
           "2020-01-25,4,4,0,4,0,,\n2020-01-26,0,0,0,4,0,,\n2021-06-01,7105,2,6437,74624,1125,0,8\n",
           ["cases_new", "cases_import", "cases_recovered", "cases_active", "cases_cluster", "cluster_import",
            "cluster_religious"], [[4, 4, 0, 4, 0, nan, nan], [0, 0, 0, 4, 0, nan, nan],
                                   [7105, 2, 6437, 74624, 1125, 0, 8]]),
    # Kaggle Train.csv (BigMart): comma, header, empty Item_Weight and Outlet_Size = missing, text columns
    reader("big_mart_sales",
           "Item_Identifier,Item_Weight,Item_Fat_Content,Item_Visibility,Item_Type,Item_MRP,Outlet_Identifier,"
           "Outlet_Establishment_Year,Outlet_Size,Outlet_Location_Type,Outlet_Type,Item_Outlet_Sales\n"
           "FDA15,9.3,Low Fat,0.016047301,Dairy,249.8092,OUT049,1999,Medium,Tier 1,Supermarket Type1,3735.138\n"
           "DRC01,5.92,Regular,0.019278216,Soft Drinks,48.2692,OUT018,2009,Medium,Tier 3,Supermarket Type2,443.4228\n"
           "FDN15,,Low Fat,0.016760075,Meat,141.618,OUT049,1999,,Tier 1,Supermarket Type1,2097.27\n",
           ["Item_Weight", "Item_Fat_Content", "Item_Visibility", "Item_Type", "Item_MRP",
            "Outlet_Establishment_Year", "Outlet_Size", "Outlet_Location_Type", "Outlet_Type",
            "Item_Outlet_Sales"], [
               [9.3, 1, 0.016047301, 1, 249.8092, 1999, 1, 1, 1, 3735.138],
               [5.92, 2, 0.019278216, 3, 48.2692, 2009, 1, 2, 2, 443.4228],
               [nan, 1, 0.016760075, 2, 141.618, 1999, nan, 1, 1, 2097.27]]),
    # Kaggle all_perth_310121.csv: comma, header, empty GARAGE / BUILD_YEAR / NEAREST_SCH_RANK = missing,
    # DATE_SOLD as 'MM-YYYY' with a stray carriage return (dropped with the address and names)
    reader("perth_house_prices",
           "ADDRESS,SUBURB,PRICE,BEDROOMS,BATHROOMS,GARAGE,LAND_AREA,FLOOR_AREA,BUILD_YEAR,CBD_DIST,NEAREST_STN,"
           "NEAREST_STN_DIST,DATE_SOLD,POSTCODE,LATITUDE,LONGITUDE,NEAREST_SCH,NEAREST_SCH_DIST,NEAREST_SCH_RANK\n"
           "1 Acorn Place,South Lake,565000,4,2,2,600,160,2003,18300,Cockburn Central Station,1800,\"09-2018\r\","
           "6164,-32.1159,115.84245,LAKELAND SENIOR HIGH SCHOOL,0.828339,\n"
           "1 Addis Way,Wandi,365000,3,2,2,351,139,2013,26900,Kwinana Station,4900,\"02-2019\r\",6167,-32.19347,"
           "115.859554,ATWELL COLLEGE,5.524324,129\n"
           "1 Ainsley Court,Camillo,287000,3,1,,719,86,,22600,Challis Station,1900,\"06-2015\r\",6111,-32.120578,"
           "115.993579,KELMSCOTT SENIOR HIGH SCHOOL,1.649178,113\n",
           ["PRICE", "BEDROOMS", "BATHROOMS", "GARAGE", "LAND_AREA", "FLOOR_AREA", "BUILD_YEAR", "CBD_DIST",
            "NEAREST_STN_DIST", "POSTCODE", "LATITUDE", "LONGITUDE", "NEAREST_SCH_DIST", "NEAREST_SCH_RANK"], [
               [565000, 4, 2, 2, 600, 160, 2003, 18300, 1800, 6164, -32.1159, 115.84245, 0.828339, nan],
               [365000, 3, 2, 2, 351, 139, 2013, 26900, 4900, 6167, -32.19347, 115.859554, 5.524324, 129],
               [287000, 3, 1, nan, 719, 86, nan, 22600, 1900, 6111, -32.120578, 115.993579, 1.649178, 113]]),
    # Kaggle bgg_dataset.csv: ';'-separated, decimal commas, UTF-8 names, lists with commas inside a field,
    # empty = missing (ID and Year Published of some games, Owned Users)
    reader("boardgamegeek",
           "ID;Name;Year Published;Min Players;Max Players;Play Time;Min Age;Users Rated;Rating Average;BGG Rank;"
           "Complexity Average;Owned Users;Mechanics;Domains\n"
           "174430;Gloomhaven;2017;1;4;120;14;42055;8,79;1;3,86;68323;Action Queue, Action Retrieval, Campaign / "
           "Battle Card Driven;Strategy Games, Thematic Games\n"
           "162886;Spirit Island;2017;1;4;120;13;33278;8,39;10;3,98;;Area Majority / Influence, Cooperative Game;"
           "Strategy Games\n"
           ";Río Grande – Señor Pokémon;;2;4;60;10;1000;6,5;20000;2,25;1200;Dice Rolling;\n",
           ["Year Published", "Min Players", "Max Players", "Play Time", "Min Age", "Users Rated",
            "Rating Average", "BGG Rank", "Complexity Average", "Owned Users"], [
               [2017, 1, 4, 120, 14, 42055, 8.79, 1, 3.86, 68323],
               [2017, 1, 4, 120, 13, 33278, 8.39, 10, 3.98, nan],
               [nan, 2, 4, 60, 10, 1000, 6.5, 20000, 2.25, 1200]]),
]


def test_every_placed_reader_has_a_test_here():
    tested = {case.id for case in READERS}
    assert set(PLACED) <= tested and len(PLACED) == 19


@pytest.mark.parametrize(("name", "text", "columns", "raw", "meta"), READERS)
def test_placed_reader(name, text, columns, raw, meta, tmp_path, monkeypatch):
    ds = _load(name, text, tmp_path, monkeypatch)
    _check(ds, columns, raw)
    if meta is not None:
        assert meta(ds.meta), ds.meta


@pytest.mark.parametrize("name", PLACED)
def test_placed_reader_says_where_the_file_goes(name, tmp_path, monkeypatch):
    monkeypatch.setenv("NMFEXP_DATA_DIR", str(tmp_path))
    spec = REAL_DATASETS[name]
    with pytest.raises(ValueError, match="not available|not shipped") as info:
        load_real(name)
    assert str(tmp_path / name / spec.file) in str(info.value)
