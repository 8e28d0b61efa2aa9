"""Generator of the embedded multilingual demo dataset (intent classification + slot filling).

The dataset is written by the distillx authors from the templates and slot value lexicons below: 14 intents,
13 slot types, 8 languages (en, de, es, fr, hi, zh, ja, th). Every example is drawn once as (intent, template
index, slot value indices) with a seeded RNG and then rendered in each language with that language's version
of the template and that language's translation of each slot value, so the same id means the same thing in
every language and has the same split, intent and slot labels. zh, ja and th are written unsegmented, as users
type them.

The output (``demo/{lang}.jsonl.gz`` and ``demo/README.md`` next to this file) is committed, so the demo needs
no generation at run time. Regenerate it with ``python -m distillx.data.demo_generate [OUT_DIR]``; the output
is byte-identical on every run (fixed seed, gzip mtime 0).

Conventions of the data below: every tuple holds one string per language in :data:`LANGS` order. A template
refers to slot values as ``{type}`` (``{city2}`` is a second value of type ``city``). Square brackets inside a
slot value mark the part that is the labelled span when the value carries a preposition or an article that a
neighbouring word needs (German ``zum [Bahnhof]``, French ``à l'[aéroport]``).
"""

from __future__ import annotations

import gzip
import io
import itertools
import json
import random
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

LANGS: tuple[str, ...] = ("en", "de", "es", "fr", "hi", "zh", "ja", "th")
SEED = 20240917
TARGET_SIZE = 2400
DEV_FRACTION = 0.15
TEST_FRACTION = 0.15
DEFAULT_OUT_DIR = Path(__file__).resolve().parent / "demo"

Row = tuple[str, str, str, str, str, str, str, str]

# ----------------------------------------------------------------------------------------------------------
# Slot value lexicons: slot type -> values, each value translated into every language (LANGS order).
# ----------------------------------------------------------------------------------------------------------
SLOT_VALUES: dict[str, list[Row]] = {
    "city": [
        ("Berlin", "Berlin", "Berlín", "Berlin", "बर्लिन", "柏林", "ベルリン", "เบอร์ลิน"),
        ("Paris", "Paris", "París", "Paris", "पेरिस", "巴黎", "パリ", "ปารีส"),
        ("Madrid", "Madrid", "Madrid", "Madrid", "मैड्रिड", "马德里", "マドリード", "มาดริด"),
        ("London", "London", "Londres", "Londres", "लंदन", "伦敦", "ロンドン", "ลอนดอน"),
        ("Tokyo", "Tokio", "Tokio", "Tokyo", "टोक्यो", "东京", "東京", "โตเกียว"),
        ("Beijing", "Peking", "Pekín", "Pékin", "बीजिंग", "北京", "北京", "ปักกิ่ง"),
        ("Bangkok", "Bangkok", "Bangkok", "Bangkok", "बैंकॉक", "曼谷", "バンコク", "กรุงเทพ"),
        ("New York", "New York", "Nueva York", "New York", "न्यूयॉर्क", "纽约", "ニューヨーク", "นิวยอร์ก"),
        ("Rome", "Rom", "Roma", "Rome", "रोम", "罗马", "ローマ", "โรม"),
        ("Delhi", "Delhi", "Delhi", "Delhi", "दिल्ली", "德里", "デリー", "เดลี"),
        (
            "Barcelona",
            "Barcelona",
            "Barcelona",
            "Barcelone",
            "बार्सिलोना",
            "巴塞罗那",
            "バルセロナ",
            "บาร์เซโลนา",
        ),
        ("Shanghai", "Shanghai", "Shanghái", "Shanghai", "शंघाई", "上海", "上海", "เซี่ยงไฮ้"),
        ("Vienna", "Wien", "Viena", "Vienne", "वियना", "维也纳", "ウィーン", "เวียนนา"),
        ("Mumbai", "Mumbai", "Bombay", "Bombay", "मुंबई", "孟买", "ムンバイ", "มุมไบ"),
        ("Sydney", "Sydney", "Sídney", "Sydney", "सिडनी", "悉尼", "シドニー", "ซิดนีย์"),
    ],
    "date": [
        ("today", "heute", "hoy", "aujourd'hui", "आज", "今天", "今日", "วันนี้"),
        ("tomorrow", "morgen", "mañana", "demain", "कल", "明天", "明日", "พรุ่งนี้"),
        (
            "the day after tomorrow",
            "übermorgen",
            "pasado mañana",
            "après-demain",
            "परसों",
            "后天",
            "明後日",
            "มะรืนนี้",
        ),
        (
            "next Monday",
            "nächsten Montag",
            "el próximo lunes",
            "lundi prochain",
            "अगले सोमवार",
            "下周一",
            "来週の月曜日",
            "วันจันทร์หน้า",
        ),
        (
            "next Tuesday",
            "nächsten Dienstag",
            "el próximo martes",
            "mardi prochain",
            "अगले मंगलवार",
            "下周二",
            "来週の火曜日",
            "วันอังคารหน้า",
        ),
        (
            "this Wednesday",
            "diesen Mittwoch",
            "este miércoles",
            "ce mercredi",
            "इस बुधवार",
            "这周三",
            "今週の水曜日",
            "วันพุธนี้",
        ),
        (
            "this Thursday",
            "diesen Donnerstag",
            "este jueves",
            "ce jeudi",
            "इस गुरुवार",
            "这周四",
            "今週の木曜日",
            "วันพฤหัสนี้",
        ),
        (
            "this Friday",
            "diesen Freitag",
            "este viernes",
            "ce vendredi",
            "इस शुक्रवार",
            "这周五",
            "今週の金曜日",
            "วันศุกร์นี้",
        ),
        (
            "next Saturday",
            "nächsten Samstag",
            "el próximo sábado",
            "samedi prochain",
            "अगले शनिवार",
            "下周六",
            "来週の土曜日",
            "วันเสาร์หน้า",
        ),
        (
            "this Sunday",
            "diesen Sonntag",
            "este domingo",
            "ce dimanche",
            "इस रविवार",
            "这周日",
            "今週の日曜日",
            "วันอาทิตย์นี้",
        ),
        (
            "this weekend",
            "dieses Wochenende",
            "este fin de semana",
            "ce week-end",
            "इस वीकेंड",
            "这个周末",
            "今週末",
            "สุดสัปดาห์นี้",
        ),
    ],
    "time": [
        ("6 am", "6 Uhr", "las 6 de la mañana", "6 heures", "सुबह 6 बजे", "早上6点", "朝6時", "หกโมงเช้า"),
        (
            "6:30 am",
            "6:30 Uhr",
            "las 6:30 de la mañana",
            "6 h 30",
            "सुबह 6:30 बजे",
            "早上6点半",
            "朝6時半",
            "หกโมงครึ่ง",
        ),
        ("7 am", "7 Uhr", "las 7 de la mañana", "7 heures", "सुबह 7 बजे", "早上7点", "朝7時", "เจ็ดโมงเช้า"),
        ("8 am", "8 Uhr", "las 8 de la mañana", "8 heures", "सुबह 8 बजे", "早上8点", "朝8時", "แปดโมงเช้า"),
        ("9 am", "9 Uhr", "las 9 de la mañana", "9 heures", "सुबह 9 बजे", "早上9点", "朝9時", "เก้าโมงเช้า"),
        ("noon", "12 Uhr", "las 12 del mediodía", "midi", "दोपहर 12 बजे", "中午12点", "昼12時", "เที่ยงวัน"),
        ("1 pm", "13 Uhr", "la 1 de la tarde", "13 heures", "दोपहर 1 बजे", "下午1点", "午後1時", "บ่ายโมง"),
        ("4 pm", "16 Uhr", "las 4 de la tarde", "16 heures", "शाम 4 बजे", "下午4点", "午後4時", "สี่โมงเย็น"),
        ("5 pm", "17 Uhr", "las 5 de la tarde", "17 heures", "शाम 5 बजे", "下午5点", "午後5時", "ห้าโมงเย็น"),
        ("7 pm", "19 Uhr", "las 7 de la tarde", "19 heures", "शाम 7 बजे", "晚上7点", "夜7時", "หนึ่งทุ่ม"),
        ("8 pm", "20 Uhr", "las 8 de la noche", "20 heures", "रात 8 बजे", "晚上8点", "夜8時", "สองทุ่ม"),
        ("9 pm", "21 Uhr", "las 9 de la noche", "21 heures", "रात 9 बजे", "晚上9点", "夜9時", "สามทุ่ม"),
    ],
    "contact": [
        ("Anna", "Anna", "Ana", "Anna", "अन्ना", "安娜", "アンナ", "แอนนา"),
        ("Maria", "Maria", "María", "Marie", "मारिया", "玛丽亚", "マリア", "มาเรีย"),
        ("David", "David", "David", "David", "डेविड", "大卫", "デイビッド", "เดวิด"),
        ("Thomas", "Thomas", "Tomás", "Thomas", "थॉमस", "托马斯", "トーマス", "โทมัส"),
        ("Sofia", "Sofia", "Sofía", "Sophie", "सोफ़िया", "索菲亚", "ソフィア", "โซเฟีย"),
        ("Lucas", "Lukas", "Lucas", "Lucas", "लुकास", "卢卡斯", "ルーカス", "ลูคัส"),
        ("Emma", "Emma", "Emma", "Emma", "एम्मा", "艾玛", "エマ", "เอ็มมา"),
        ("Peter", "Peter", "Pedro", "Pierre", "पीटर", "彼得", "ピーター", "ปีเตอร์"),
        ("Julia", "Julia", "Julia", "Julie", "जूलिया", "朱莉娅", "ジュリア", "จูเลีย"),
        ("Carlos", "Carlos", "Carlos", "Carlos", "कार्लोस", "卡洛斯", "カルロス", "คาร์ลอส"),
        ("Lisa", "Lisa", "Lisa", "Lisa", "लीसा", "丽莎", "リサ", "ลิซ่า"),
        ("Mark", "Mark", "Marcos", "Marc", "मार्क", "马克", "マーク", "มาร์ค"),
        ("mom", "Mama", "mamá", "maman", "माँ", "妈妈", "お母さん", "แม่"),
        ("dad", "Papa", "papá", "papa", "पापा", "爸爸", "お父さん", "พ่อ"),
        ("grandma", "Oma", "la [abuela]", "mamie", "दादी", "奶奶", "おばあちゃん", "ยาย"),
    ],
    "artist": [
        (
            "Taylor Swift",
            "Taylor Swift",
            "Taylor Swift",
            "Taylor Swift",
            "टेलर स्विफ्ट",
            "泰勒·斯威夫特",
            "テイラー・スウィフト",
            "เทย์เลอร์สวิฟต์",
        ),
        ("Adele", "Adele", "Adele", "Adele", "एडेल", "阿黛尔", "アデル", "อเดล"),
        (
            "Ed Sheeran",
            "Ed Sheeran",
            "Ed Sheeran",
            "Ed Sheeran",
            "एड शीरन",
            "艾德·希兰",
            "エド・シーラン",
            "เอ็ดชีแรน",
        ),
        ("Beyoncé", "Beyoncé", "Beyoncé", "Beyoncé", "बियॉन्से", "碧昂丝", "ビヨンセ", "บียอนเซ่"),
        ("Coldplay", "Coldplay", "Coldplay", "Coldplay", "कोल्डप्ले", "酷玩乐队", "コールドプレイ", "โคลด์เพลย์"),
        ("Shakira", "Shakira", "Shakira", "Shakira", "शकीरा", "夏奇拉", "シャキーラ", "ชากีรา"),
        (
            "The Beatles",
            "The Beatles",
            "The Beatles",
            "The Beatles",
            "द बीटल्स",
            "披头士",
            "ビートルズ",
            "เดอะบีเทิลส์",
        ),
        ("Queen", "Queen", "Queen", "Queen", "क्वीन", "皇后乐队", "クイーン", "ควีน"),
        (
            "Bruno Mars",
            "Bruno Mars",
            "Bruno Mars",
            "Bruno Mars",
            "ब्रूनो मार्स",
            "布鲁诺·马尔斯",
            "ブルーノ・マーズ",
            "บรูโนมาร์ส",
        ),
        (
            "Michael Jackson",
            "Michael Jackson",
            "Michael Jackson",
            "Michael Jackson",
            "माइकल जैक्सन",
            "迈克尔·杰克逊",
            "マイケル・ジャクソン",
            "ไมเคิลแจ็กสัน",
        ),
        ("Mozart", "Mozart", "Mozart", "Mozart", "मोज़ार्ट", "莫扎特", "モーツァルト", "โมซาร์ท"),
        ("Beethoven", "Beethoven", "Beethoven", "Beethoven", "बीथोवन", "贝多芬", "ベートーヴェン", "เบโธเฟน"),
    ],
    "genre": [
        ("jazz", "Jazz", "jazz", "jazz", "जैज़", "爵士乐", "ジャズ", "แจ๊ส"),
        ("rock", "Rock", "rock", "rock", "रॉक", "摇滚乐", "ロック", "ร็อก"),
        ("pop", "Pop", "pop", "pop", "पॉप", "流行音乐", "ポップス", "ป๊อป"),
        (
            "classical music",
            "klassische Musik",
            "música clásica",
            "musique classique",
            "शास्त्रीय संगीत",
            "古典音乐",
            "クラシック",
            "คลาสสิก",
        ),
        ("hip hop", "Hip-Hop", "hip hop", "hip-hop", "हिप हॉप", "嘻哈音乐", "ヒップホップ", "ฮิปฮอป"),
        ("reggae", "Reggae", "reggae", "reggae", "रेगे", "雷鬼音乐", "レゲエ", "เร็กเก้"),
        ("blues", "Blues", "blues", "blues", "ब्लूज़", "蓝调", "ブルース", "บลูส์"),
        (
            "electronic music",
            "elektronische Musik",
            "música electrónica",
            "musique électronique",
            "इलेक्ट्रॉनिक संगीत",
            "电子音乐",
            "エレクトロ",
            "อิเล็กทรอนิกส์",
        ),
        ("country", "Country", "country", "country", "कंट्री", "乡村音乐", "カントリー", "คันทรี"),
        (
            "Bollywood music",
            "Bollywood-Musik",
            "música de Bollywood",
            "musique de Bollywood",
            "बॉलीवुड संगीत",
            "宝莱坞音乐",
            "ボリウッド音楽",
            "บอลลีวูด",
        ),
    ],
    # de/es/fr carry the preposition/article their templates need ("in der Küche", "en la cocina").
    "room": [
        ("kitchen", "in der [Küche]", "la [cocina]", "la [cuisine]", "रसोई", "厨房", "キッチン", "ห้องครัว"),
        (
            "living room",
            "im [Wohnzimmer]",
            "el [salón]",
            "le [salon]",
            "लिविंग रूम",
            "客厅",
            "リビング",
            "ห้องนั่งเล่น",
        ),
        ("bedroom", "im [Schlafzimmer]", "el [dormitorio]", "la [chambre]", "बेडरूम", "卧室", "寝室", "ห้องนอน"),
        ("bathroom", "im [Badezimmer]", "el [baño]", "la [salle de bain]", "बाथरूम", "浴室", "浴室", "ห้องน้ำ"),
        ("office", "im [Arbeitszimmer]", "el [despacho]", "le [bureau]", "ऑफ़िस", "书房", "書斎", "ห้องทำงาน"),
        ("hallway", "im [Flur]", "el [pasillo]", "le [couloir]", "हॉल", "走廊", "廊下", "ทางเดิน"),
        ("garage", "in der [Garage]", "el [garaje]", "le [garage]", "गैराज", "车库", "ガレージ", "โรงรถ"),
        (
            "guest room",
            "im [Gästezimmer]",
            "la [habitación de invitados]",
            "la [chambre d'amis]",
            "गेस्ट रूम",
            "客房",
            "客間",
            "ห้องนอนแขก",
        ),
        (
            "dining room",
            "im [Esszimmer]",
            "el [comedor]",
            "la [salle à manger]",
            "डाइनिंग रूम",
            "餐厅",
            "ダイニング",
            "ห้องกินข้าว",
        ),
    ],
    "dish": [
        ("pizza", "Pizza", "pizza", "pizza", "पिज़्ज़ा", "披萨", "ピザ", "พิซซ่า"),
        ("sushi", "Sushi", "sushi", "sushis", "सुशी", "寿司", "寿司", "ซูชิ"),
        ("pad thai", "Pad Thai", "pad thai", "pad thaï", "पैड थाई", "泰式炒河粉", "パッタイ", "ผัดไทย"),
        ("fried rice", "Bratreis", "arroz frito", "riz frit", "फ्राइड राइस", "炒饭", "チャーハン", "ข้าวผัด"),
        ("ramen", "Ramen", "ramen", "ramen", "रामेन", "拉面", "ラーメン", "ราเมง"),
        ("curry", "Curry", "curry", "curry", "करी", "咖喱", "カレー", "แกงกะหรี่"),
        ("pasta", "Pasta", "pasta", "pâtes", "पास्ता", "意大利面", "パスタ", "พาสต้า"),
        ("biryani", "Biryani", "biryani", "biryani", "बिरयानी", "印度香饭", "ビリヤニ", "ข้าวหมกบริยานี"),
        ("dumplings", "Dumplings", "gyozas", "raviolis chinois", "मोमोज़", "饺子", "餃子", "เกี๊ยว"),
        ("paella", "Paella", "paella", "paella", "पाएया", "西班牙海鲜饭", "パエリア", "ปาเอยา"),
        (
            "tom yum soup",
            "Tom-Yum-Suppe",
            "sopa tom yum",
            "soupe tom yum",
            "टॉम यम सूप",
            "冬阴功汤",
            "トムヤムクン",
            "ต้มยำกุ้ง",
        ),
        ("tacos", "Tacos", "tacos", "tacos", "टैकोस", "墨西哥卷饼", "タコス", "ทาโก้"),
    ],
    "number": [
        ("two", "zwei", "dos", "deux", "दो", "2", "2", "สอง"),
        ("three", "drei", "tres", "trois", "तीन", "3", "3", "สาม"),
        ("four", "vier", "cuatro", "quatre", "चार", "4", "4", "สี่"),
        ("five", "fünf", "cinco", "cinq", "पाँच", "5", "5", "ห้า"),
        ("six", "sechs", "seis", "six", "छह", "6", "6", "หก"),
        ("seven", "sieben", "siete", "sept", "सात", "7", "7", "เจ็ด"),
        ("eight", "acht", "ocho", "huit", "आठ", "8", "8", "แปด"),
        ("ten", "zehn", "diez", "dix", "दस", "10", "10", "สิบ"),
    ],
    # de/es/fr carry the "to" preposition their templates need ("zum Bahnhof", "al aeropuerto", "à la gare").
    "place": [
        (
            "train station",
            "zum [Bahnhof]",
            "a la [estación de tren]",
            "à la [gare]",
            "रेलवे स्टेशन",
            "火车站",
            "駅",
            "สถานีรถไฟ",
        ),
        (
            "airport",
            "zum [Flughafen]",
            "al [aeropuerto]",
            "à l'[aéroport]",
            "एयरपोर्ट",
            "机场",
            "空港",
            "สนามบิน",
        ),
        (
            "nearest pharmacy",
            "zur [nächsten Apotheke]",
            "a la [farmacia más cercana]",
            "à la [pharmacie la plus proche]",
            "सबसे नज़दीकी फ़ार्मेसी",
            "最近的药店",
            "一番近い薬局",
            "ร้านขายยาที่ใกล้ที่สุด",
        ),
        (
            "hospital",
            "zum [Krankenhaus]",
            "al [hospital]",
            "à l'[hôpital]",
            "अस्पताल",
            "医院",
            "病院",
            "โรงพยาบาล",
        ),
        ("museum", "zum [Museum]", "al [museo]", "au [musée]", "संग्रहालय", "博物馆", "博物館", "พิพิธภัณฑ์"),
        (
            "city center",
            "ins [Stadtzentrum]",
            "al [centro de la ciudad]",
            "au [centre-ville]",
            "सिटी सेंटर",
            "市中心",
            "街の中心部",
            "ใจกลางเมือง",
        ),
        (
            "nearest gas station",
            "zur [nächsten Tankstelle]",
            "a la [gasolinera más cercana]",
            "à la [station-service la plus proche]",
            "सबसे नज़दीकी पेट्रोल पंप",
            "最近的加油站",
            "一番近いガソリンスタンド",
            "ปั๊มน้ำมันที่ใกล้ที่สุด",
        ),
        ("beach", "zum [Strand]", "a la [playa]", "à la [plage]", "समुद्र तट", "海滩", "ビーチ", "ชายหาด"),
        (
            "library",
            "zur [Bibliothek]",
            "a la [biblioteca]",
            "à la [bibliothèque]",
            "लाइब्रेरी",
            "图书馆",
            "図書館",
            "ห้องสมุด",
        ),
        ("zoo", "zum [Zoo]", "al [zoológico]", "au [zoo]", "चिड़ियाघर", "动物园", "動物園", "สวนสัตว์"),
        (
            "post office",
            "zur [Post]",
            "a la [oficina de correos]",
            "à la [poste]",
            "डाकघर",
            "邮局",
            "郵便局",
            "ที่ทำการไปรษณีย์",
        ),
        (
            "university",
            "zur [Universität]",
            "a la [universidad]",
            "à l'[université]",
            "यूनिवर्सिटी",
            "大学",
            "大学",
            "มหาวิทยาลัย",
        ),
        (
            "nearest supermarket",
            "zum [nächsten Supermarkt]",
            "al [supermercado más cercano]",
            "au [supermarché le plus proche]",
            "सबसे नज़दीकी सुपरमार्केट",
            "最近的超市",
            "一番近いスーパー",
            "ซูเปอร์มาร์เก็ตที่ใกล้ที่สุด",
        ),
        (
            "nearest bus stop",
            "zur [nächsten Bushaltestelle]",
            "a la [parada de autobús más cercana]",
            "à l'[arrêt de bus le plus proche]",
            "सबसे नज़दीकी बस स्टॉप",
            "最近的公交车站",
            "一番近いバス停",
            "ป้ายรถเมล์ที่ใกล้ที่สุด",
        ),
    ],
    "phrase": [
        (
            "good morning",
            "guten Morgen",
            "buenos días",
            "bonjour",
            "सुप्रभात",
            "早上好",
            "おはようございます",
            "สวัสดีตอนเช้า",
        ),
        (
            "thank you very much",
            "vielen Dank",
            "muchas gracias",
            "merci beaucoup",
            "बहुत धन्यवाद",
            "非常感谢",
            "どうもありがとう",
            "ขอบคุณมาก",
        ),
        (
            "where is the train station",
            "wo ist der Bahnhof",
            "dónde está la estación",
            "où est la gare",
            "रेलवे स्टेशन कहाँ है",
            "火车站在哪里",
            "駅はどこですか",
            "สถานีรถไฟอยู่ที่ไหน",
        ),
        (
            "how much does this cost",
            "wie viel kostet das",
            "cuánto cuesta esto",
            "combien ça coûte",
            "इसकी कीमत क्या है",
            "这个多少钱",
            "これはいくらですか",
            "อันนี้ราคาเท่าไหร่",
        ),
        (
            "I love you",
            "ich liebe dich",
            "te quiero",
            "je t'aime",
            "मैं तुमसे प्यार करता हूँ",
            "我爱你",
            "愛してる",
            "ฉันรักเธอ",
        ),
        (
            "see you tomorrow",
            "bis morgen",
            "hasta mañana",
            "à demain",
            "कल मिलते हैं",
            "明天见",
            "また明日",
            "เจอกันพรุ่งนี้",
        ),
        (
            "happy birthday",
            "alles Gute zum Geburtstag",
            "feliz cumpleaños",
            "joyeux anniversaire",
            "जन्मदिन मुबारक",
            "生日快乐",
            "誕生日おめでとう",
            "สุขสันต์วันเกิด",
        ),
        (
            "nice to meet you",
            "freut mich",
            "encantado de conocerte",
            "enchanté",
            "आपसे मिलकर खुशी हुई",
            "很高兴认识你",
            "はじめまして",
            "ยินดีที่ได้รู้จัก",
        ),
        (
            "excuse me",
            "Entschuldigung",
            "perdón",
            "excusez-moi",
            "माफ़ कीजिए",
            "不好意思",
            "すみません",
            "ขอโทษ",
        ),
        (
            "good night",
            "gute Nacht",
            "buenas noches",
            "bonne nuit",
            "शुभ रात्रि",
            "晚安",
            "おやすみなさい",
            "ราตรีสวัสดิ์",
        ),
    ],
    "language": [
        ("English", "Englisch", "inglés", "anglais", "अंग्रेज़ी", "英语", "英語", "ภาษาอังกฤษ"),
        ("German", "Deutsch", "alemán", "allemand", "जर्मन", "德语", "ドイツ語", "ภาษาเยอรมัน"),
        ("Spanish", "Spanisch", "español", "espagnol", "स्पेनिश", "西班牙语", "スペイン語", "ภาษาสเปน"),
        ("French", "Französisch", "francés", "français", "फ़्रेंच", "法语", "フランス語", "ภาษาฝรั่งเศส"),
        ("Hindi", "Hindi", "hindi", "hindi", "हिंदी", "印地语", "ヒンディー語", "ภาษาฮินดี"),
        ("Chinese", "Chinesisch", "chino", "chinois", "चीनी", "中文", "中国語", "ภาษาจีน"),
        ("Japanese", "Japanisch", "japonés", "japonais", "जापानी", "日语", "日本語", "ภาษาญี่ปุ่น"),
        ("Thai", "Thailändisch", "tailandés", "thaï", "थाई", "泰语", "タイ語", "ภาษาไทย"),
        ("Italian", "Italienisch", "italiano", "italien", "इतालवी", "意大利语", "イタリア語", "ภาษาอิตาลี"),
        ("Korean", "Koreanisch", "coreano", "coréen", "कोरियाई", "韩语", "韓国語", "ภาษาเกาหลี"),
    ],
    "amount": [
        ("20 euros", "20 Euro", "20 euros", "20 euros", "20 यूरो", "20欧元", "20ユーロ", "20ยูโร"),
        ("50 euros", "50 Euro", "50 euros", "50 euros", "50 यूरो", "50欧元", "50ユーロ", "50ยูโร"),
        ("100 euros", "100 Euro", "100 euros", "100 euros", "100 यूरो", "100欧元", "100ユーロ", "100ยูโร"),
        ("250 euros", "250 Euro", "250 euros", "250 euros", "250 यूरो", "250欧元", "250ユーロ", "250ยูโร"),
        ("30 dollars", "30 Dollar", "30 dólares", "30 dollars", "30 डॉलर", "30美元", "30ドル", "30ดอลลาร์"),
        ("80 dollars", "80 Dollar", "80 dólares", "80 dollars", "80 डॉलर", "80美元", "80ドル", "80ดอลลาร์"),
        (
            "500 dollars",
            "500 Dollar",
            "500 dólares",
            "500 dollars",
            "500 डॉलर",
            "500美元",
            "500ドル",
            "500ดอลลาร์",
        ),
        ("500 rupees", "500 Rupien", "500 rupias", "500 roupies", "500 रुपये", "500卢比", "500ルピー", "500รูปี"),
        (
            "2000 rupees",
            "2000 Rupien",
            "2000 rupias",
            "2000 roupies",
            "2000 रुपये",
            "2000卢比",
            "2000ルピー",
            "2000รูปี",
        ),
        ("300 baht", "300 Baht", "300 bahts", "300 bahts", "300 बाट", "300泰铢", "300バーツ", "300บาท"),
        (
            "1000 baht",
            "1000 Baht",
            "1000 bahts",
            "1000 bahts",
            "1000 बाट",
            "1000泰铢",
            "1000バーツ",
            "1000บาท",
        ),
        ("5000 yen", "5000 Yen", "5000 yenes", "5000 yens", "5000 येन", "5000日元", "5000円", "5000เยน"),
    ],
}

# ----------------------------------------------------------------------------------------------------------
# Templates: intent -> rows; row i of an intent is template i, one version per language (LANGS order).
# Intents share vocabulary on purpose (turn on / turn off, call / message / remind to call, book a flight /
# book a table, send a message / send money, play music in a room / lights in a room).
# ----------------------------------------------------------------------------------------------------------
TEMPLATES: dict[str, list[Row]] = {
    "book_flight": [
        (
            "book a flight to {city} {date}",
            "Buche einen Flug nach {city} für {date}",
            "reserva un vuelo a {city} para {date}",
            "réserve un vol pour {city} {date}",
            "{date} {city} के लिए फ़्लाइट बुक करो",
            "帮我订一张{date}去{city}的机票",
            "{date}の{city}行きの飛行機を予約して",
            "จองตั๋วเครื่องบินไป{city}{date}ให้หน่อย",
        ),
        (
            "I need a flight from {city} to {city2} {date}",
            "Ich brauche {date} einen Flug von {city} nach {city2}",
            "necesito un vuelo de {city} a {city2} para {date}",
            "j'ai besoin d'un vol de {city} à {city2} {date}",
            "मुझे {date} {city} से {city2} की फ़्लाइट चाहिए",
            "我需要一张{date}从{city}飞{city2}的机票",
            "{date}、{city}から{city2}までのフライトが必要です",
            "ต้องการเที่ยวบินจาก{city}ไป{city2}{date}",
        ),
        (
            "are there any flights to {city} {date}?",
            "Gibt es {date} Flüge nach {city}?",
            "¿hay vuelos a {city} {date}?",
            "est-ce qu'il y a des vols pour {city} {date} ?",
            "क्या {date} {city} के लिए कोई फ़्लाइट है?",
            "{date}有飞往{city}的航班吗",
            "{date}、{city}行きの便はありますか",
            "{date}มีเที่ยวบินไป{city}ไหม",
        ),
        (
            "find me a cheap flight to {city}",
            "Finde einen günstigen Flug nach {city}",
            "búscame un vuelo barato a {city}",
            "trouve-moi un vol pas cher pour {city}",
            "{city} के लिए सस्ती फ़्लाइट ढूँढो",
            "帮我找一张去{city}的便宜机票",
            "{city}行きの安い航空券を探して",
            "หาตั๋วเครื่องบินราคาถูกไป{city}ให้หน่อย",
        ),
        (
            "Book me a plane ticket from {city} to {city2}.",
            "Buch mir ein Flugticket von {city} nach {city2}.",
            "Resérvame un billete de avión de {city} a {city2}.",
            "Réserve-moi un billet d'avion de {city} à {city2}.",
            "{city} से {city2} का हवाई टिकट बुक कर दो।",
            "给我订一张从{city}到{city2}的机票。",
            "{city}から{city2}への航空券を予約してください。",
            "จองตั๋วเครื่องบินจาก{city}ไป{city2}ให้ฉันหน่อย",
        ),
        (
            "I want to fly to {city} {date}",
            "Ich möchte {date} nach {city} fliegen",
            "quiero volar a {city} {date}",
            "je veux prendre l'avion pour {city} {date}",
            "मुझे {date} हवाई जहाज़ से {city} जाना है",
            "我想{date}坐飞机去{city}",
            "{date}飛行機で{city}に行きたい",
            "อยากบินไป{city}{date}",
        ),
        (
            "reserve a seat on the first flight to {city} {date}",
            "Reservier mir {date} einen Platz im ersten Flieger nach {city}",
            "resérvame un asiento en el primer vuelo a {city} {date}",
            "réserve-moi une place dans le premier vol pour {city} {date}",
            "{date} {city} जाने वाली पहली फ़्लाइट में एक सीट बुक करो",
            "帮我预订{date}飞{city}的第一班飞机",
            "{date}の朝一番の{city}行きの便を予約して",
            "จองที่นั่งเที่ยวบินแรกไป{city}{date}",
        ),
    ],
    "check_weather": [
        (
            "what's the weather like in {city} {date}?",
            "Wie wird das Wetter {date} in {city}?",
            "¿qué tiempo hará en {city} {date}?",
            "quel temps fera-t-il à {city} {date} ?",
            "{date} {city} में मौसम कैसा रहेगा?",
            "{city}{date}天气怎么样",
            "{date}の{city}の天気はどう？",
            "{date}อากาศที่{city}เป็นยังไง",
        ),
        (
            "will it rain in {city} {date}",
            "Regnet es {date} in {city}?",
            "¿va a llover en {city} {date}?",
            "est-ce qu'il va pleuvoir à {city} {date}",
            "क्या {date} {city} में बारिश होगी",
            "{date}{city}会下雨吗",
            "{date}、{city}は雨が降る？",
            "{date}{city}ฝนจะตกไหม",
        ),
        (
            "weather forecast for {city}",
            "Wettervorhersage für {city}",
            "pronóstico del tiempo para {city}",
            "météo pour {city}",
            "{city} का मौसम पूर्वानुमान",
            "{city}的天气预报",
            "{city}の天気予報",
            "พยากรณ์อากาศ{city}",
        ),
        (
            "how hot will it be in {city} {date}",
            "Wie warm wird es {date} in {city}?",
            "¿cuánto calor hará en {city} {date}?",
            "il va faire chaud à {city} {date} ?",
            "{date} {city} में कितनी गर्मी होगी?",
            "{date}{city}气温多少度",
            "{date}の{city}の気温は何度？",
            "อุณหภูมิที่{city}{date}กี่องศา",
        ),
        (
            "Do I need an umbrella in {city} {date}?",
            "Brauche ich {date} in {city} einen Regenschirm?",
            "¿Necesito paraguas en {city} {date}?",
            "Est-ce que j'ai besoin d'un parapluie à {city} {date} ?",
            "क्या {date} {city} में छाते की ज़रूरत पड़ेगी?",
            "{date}在{city}需要带伞吗？",
            "{date}、{city}で傘はいりますか？",
            "{date}ไป{city}ต้องพกร่มไหม",
        ),
        (
            "tell me the weather in {city} for {date}",
            "Sag mir das Wetter in {city} für {date}",
            "dime el tiempo en {city} para {date}",
            "donne-moi la météo à {city} pour {date}",
            "मुझे {city} का {date} का मौसम बताओ",
            "告诉我{city}{date}的天气",
            "{city}の{date}の天気を教えて",
            "บอกสภาพอากาศที่{city}{date}หน่อย",
        ),
        (
            "is it going to be sunny in {city} {date}",
            "Scheint {date} in {city} die Sonne?",
            "¿hará sol en {city} {date}?",
            "est-ce qu'il fera beau à {city} {date}",
            "क्या {date} {city} में धूप रहेगी",
            "{city}{date}是晴天吗",
            "{date}の{city}は晴れますか",
            "{date}{city}แดดออกไหม",
        ),
    ],
    "set_alarm": [
        (
            "set an alarm for {time}",
            "Stell einen Wecker auf {time}",
            "pon una alarma a {time}",
            "mets une alarme à {time}",
            "{time} का अलार्म लगाओ",
            "设一个{time}的闹钟",
            "{time}にアラームをセットして",
            "ตั้งปลุก{time}",
        ),
        (
            "wake me up at {time} {date}",
            "Weck mich {date} um {time}",
            "despiértame {date} a {time}",
            "réveille-moi {date} à {time}",
            "मुझे {date} {time} जगा देना",
            "{date}{time}叫醒我",
            "{date}の{time}に起こして",
            "ปลุกฉัน{date}ตอน{time}",
        ),
        (
            "alarm at {time} {date} please",
            "Wecker {date} um {time} bitte",
            "alarma {date} a {time}, por favor",
            "une alarme {date} à {time} s'il te plaît",
            "{date} {time} का अलार्म प्लीज़",
            "请设置{date}{time}的闹钟",
            "{date}の{time}にアラームお願い",
            "ช่วยตั้งนาฬิกาปลุก{date}{time}",
        ),
        (
            "I need to get up at {time}",
            "Ich muss um {time} aufstehen",
            "tengo que levantarme a {time}",
            "je dois me lever à {time}",
            "मुझे {time} उठना है",
            "我要{time}起床",
            "{time}に起きないといけない",
            "ฉันต้องตื่น{time}",
        ),
        (
            "Set my alarm for {date} at {time}.",
            "Stell meinen Wecker für {date} auf {time}.",
            "Programa mi alarma para {date} a {time}.",
            "Règle mon réveil pour {date} à {time}.",
            "{date} के लिए {time} का अलार्म सेट करो।",
            "把闹钟定在{date}{time}。",
            "{date}の{time}に目覚ましを設定してください。",
            "ตั้งนาฬิกาปลุกสำหรับ{date}เวลา{time}",
        ),
        (
            "create an alarm {date} at {time}",
            "Erstelle einen Alarm für {date} um {time}",
            "crea una alarma para {date} a {time}",
            "crée une alarme pour {date} à {time}",
            "{date} {time} के लिए एक अलार्म बनाओ",
            "新建一个{date}{time}的闹钟",
            "{date}の{time}のアラームを作成して",
            "สร้างการปลุก{date}เวลา{time}",
        ),
        (
            "can you set an alarm at {time} every day",
            "kannst du jeden Tag einen Wecker um {time} stellen",
            "¿puedes poner una alarma todos los días a {time}?",
            "tu peux mettre une alarme tous les jours à {time} ?",
            "क्या तुम रोज़ {time} का अलार्म लगा सकते हो?",
            "你能设一个每天{time}的闹钟吗",
            "毎日{time}にアラームを鳴らしてくれる？",
            "ตั้งปลุกทุกวันตอน{time}ได้ไหม",
        ),
    ],
    "set_reminder": [
        (
            "remind me to call {contact} at {time}",
            "Erinnere mich daran, {contact} um {time} anzurufen",
            "recuérdame llamar a {contact} a {time}",
            "rappelle-moi d'appeler {contact} à {time}",
            "मुझे {time} {contact} को फ़ोन करने की याद दिलाना",
            "{time}提醒我给{contact}打电话",
            "{time}に{contact}に電話するようリマインドして",
            "เตือนให้โทรหา{contact}ตอน{time}",
        ),
        (
            "remind me {date} at {time} to take my medicine",
            "Erinnere mich {date} um {time} daran, meine Medikamente zu nehmen",
            "recuérdame {date} a {time} que tome mis medicinas",
            "rappelle-moi {date} à {time} de prendre mes médicaments",
            "मुझे {date} {time} दवाई लेने की याद दिलाना",
            "{date}{time}提醒我吃药",
            "{date}の{time}に薬を飲むようにリマインドして",
            "เตือนฉัน{date}ตอน{time}ให้กินยา",
        ),
        (
            "set a reminder for {date}: buy a gift for {contact}",
            "Erstelle eine Erinnerung für {date}: Geschenk für {contact} kaufen",
            "pon un recordatorio para {date}: comprar un regalo para {contact}",
            "crée un rappel pour {date} : acheter un cadeau pour {contact}",
            "{date} के लिए रिमाइंडर लगाओ: {contact} के लिए तोहफ़ा खरीदना",
            "设置一个{date}的提醒：给{contact}买礼物",
            "{date}のリマインダーを設定して：{contact}へのプレゼントを買う",
            "ตั้งเตือน{date}ว่าซื้อของขวัญให้{contact}",
        ),
        (
            "don't let me forget the meeting at {time} {date}",
            "Lass mich das Meeting {date} um {time} nicht vergessen",
            "no me dejes olvidar la reunión {date} a {time}",
            "ne me laisse pas oublier la réunion {date} à {time}",
            "मुझे {date} {time} वाली मीटिंग भूलने मत देना",
            "别让我忘了{date}{time}的会议",
            "{date}の{time}の会議を忘れないように教えて",
            "อย่าให้ฉันลืมประชุม{date}ตอน{time}",
        ),
        (
            "Remind me to text {contact} {date}.",
            "Erinnere mich {date} daran, {contact} zu schreiben.",
            "Recuérdame escribirle a {contact} {date}.",
            "Rappelle-moi d'écrire à {contact} {date}.",
            "मुझे {date} {contact} को मैसेज करने की याद दिलाना।",
            "提醒我{date}给{contact}发消息。",
            "{date}、{contact}にメッセージを送るようリマインドして。",
            "เตือนให้ส่งข้อความหา{contact}{date}",
        ),
        (
            "add a reminder at {time} to pick up {contact}",
            "Füge eine Erinnerung um {time} hinzu, {contact} abzuholen",
            "añade un recordatorio a {time} para recoger a {contact}",
            "ajoute un rappel à {time} pour aller chercher {contact}",
            "{time} का रिमाइंडर जोड़ो कि {contact} को लेने जाना है",
            "加一个{time}的提醒，去接{contact}",
            "{time}に{contact}を迎えに行くリマインダーを追加して",
            "เพิ่มการเตือนตอน{time}ให้ไปรับ{contact}",
        ),
        (
            "remind me {date} to pay the rent",
            "erinnere mich {date} daran, die Miete zu zahlen",
            "recuérdame {date} pagar el alquiler",
            "rappelle-moi {date} de payer le loyer",
            "मुझे {date} किराया भरने की याद दिलाना",
            "{date}提醒我交房租",
            "{date}、家賃を払うようにリマインドして",
            "เตือนฉัน{date}ให้จ่ายค่าเช่า",
        ),
    ],
    "play_music": [
        (
            "play {artist}",
            "Spiel {artist}",
            "pon {artist}",
            "mets {artist}",
            "{artist} के गाने चलाओ",
            "播放{artist}的歌",
            "{artist}を再生して",
            "เปิดเพลง{artist}",
        ),
        (
            "play some {genre}",
            "Spiel etwas {genre}",
            "pon algo de {genre}",
            "mets un peu de {genre}",
            "कुछ {genre} बजाओ",
            "放一些{genre}",
            "{genre}をかけて",
            "เปิดเพลง{genre}หน่อย",
        ),
        (
            "play songs by {artist} in the {room}",
            "Spiel Lieder von {artist} {room}",
            "pon canciones de {artist} en {room}",
            "mets des chansons de {artist} dans {room}",
            "{room} में {artist} के गाने बजाओ",
            "在{room}播放{artist}的歌",
            "{room}で{artist}の曲を流して",
            "เปิดเพลงของ{artist}ใน{room}",
        ),
        (
            "put on some {genre} in the {room}",
            "Mach {room} etwas {genre} an",
            "pon un poco de {genre} en {room}",
            "mets un peu de {genre} dans {room}",
            "{room} में थोड़ा {genre} लगाओ",
            "在{room}放一些{genre}",
            "{room}で{genre}をかけて",
            "เปิดเพลง{genre}ใน{room}",
        ),
        (
            "I want to listen to {artist}",
            "Ich will {artist} hören",
            "quiero escuchar a {artist}",
            "je veux écouter {artist}",
            "मैं {artist} को सुनना चाहता हूँ",
            "我想听{artist}",
            "{artist}が聴きたい",
            "อยากฟัง{artist}",
        ),
        (
            "play the latest album by {artist}",
            "Spiel das neueste Album von {artist}",
            "pon el último álbum de {artist}",
            "mets le dernier album de {artist}",
            "{artist} का नया एल्बम चलाओ",
            "播放{artist}的最新专辑",
            "{artist}の最新アルバムを再生して",
            "เปิดอัลบั้มล่าสุดของ{artist}",
        ),
        (
            "I'm in the mood for {genre}",
            "Ich habe Lust auf {genre}",
            "me apetece escuchar {genre}",
            "j'ai envie d'un peu de {genre}",
            "मेरा {genre} सुनने का मन है",
            "我想听{genre}",
            "{genre}が聴きたい気分",
            "อยากฟังเพลง{genre}",
        ),
        (
            "Play {artist} in the {room}.",
            "Spiel {artist} {room}.",
            "Pon {artist} en {room}.",
            "Mets {artist} dans {room}.",
            "{room} में {artist} चलाओ।",
            "在{room}放{artist}的音乐。",
            "{room}で{artist}を流して。",
            "เปิด{artist}ใน{room}",
        ),
    ],
    "order_food": [
        (
            "order some {dish}",
            "Bestell {dish}",
            "pide {dish}",
            "commande à manger, j'ai envie de {dish}",
            "{dish} ऑर्डर करो",
            "帮我点{dish}外卖",
            "{dish}を注文して",
            "สั่ง{dish}ให้หน่อย",
        ),
        (
            "order {number} portions of {dish}",
            "Bestell {number} Portionen {dish}",
            "pide {number} raciones de {dish}",
            "commande {number} portions de {dish}",
            "{dish} की {number} प्लेट ऑर्डर करो",
            "点{number}份{dish}",
            "{dish}を{number}人前注文して",
            "สั่ง{dish}{number}ที่",
        ),
        (
            "I'd like {dish} delivered at {time}",
            "Ich hätte gern {dish} um {time} geliefert",
            "quiero que me traigan {dish} a {time}",
            "je voudrais une livraison de {dish} à {time}",
            "मुझे {time} {dish} की डिलीवरी चाहिए",
            "我想要{time}送到的{dish}",
            "{time}に{dish}を届けてほしい",
            "อยากให้ส่ง{dish}มาตอน{time}",
        ),
        (
            "can you order {number} portions of {dish} for {time}",
            "Kannst du {number} Portionen {dish} für {time} bestellen?",
            "¿puedes pedir {number} raciones de {dish} para {time}?",
            "tu peux commander {number} portions de {dish} pour {time} ?",
            "क्या तुम {time} के लिए {dish} की {number} प्लेट ऑर्डर कर सकते हो?",
            "能帮我订{number}份{dish}吗，{time}送到",
            "{dish}を{number}人前、{time}に届くように注文できる？",
            "ช่วยสั่ง{dish}{number}ที่ให้มาส่งตอน{time}ได้ไหม",
        ),
        (
            "I'm hungry, get me some {dish}",
            "Ich hab Hunger, bestell mir {dish}",
            "tengo hambre, pídeme {dish}",
            "j'ai faim, commande une portion de {dish}",
            "भूख लगी है, मेरे लिए {dish} मँगवा दो",
            "我饿了，给我叫份{dish}",
            "お腹すいた、{dish}を頼んで",
            "หิวแล้วสั่ง{dish}ให้หน่อย",
        ),
        (
            "place an order for {dish} for {number} people",
            "Bestell {dish} für {number} Personen",
            "haz un pedido de {dish} para {number} personas",
            "passe une commande de {dish} pour {number} personnes",
            "{number} लोगों के लिए {dish} ऑर्डर करो",
            "订{number}个人吃的{dish}",
            "{number}人分の{dish}を注文して",
            "สั่ง{dish}สำหรับ{number}คน",
        ),
        (
            "Get {dish} delivered to my place by {time}.",
            "Lass mir bis {time} {dish} liefern.",
            "Haz que me traigan {dish} a casa antes de {time}.",
            "Fais-moi livrer une commande de {dish} avant {time}.",
            "{time} तक घर पर {dish} मँगवा दो।",
            "{time}之前把{dish}送到我家。",
            "{time}までに{dish}を家に届けて。",
            "ส่ง{dish}มาที่บ้านก่อน{time}",
        ),
    ],
    "book_restaurant": [
        (
            "book a table for {number} at {time}",
            "Reservier einen Tisch für {number} Personen um {time}",
            "reserva una mesa para {number} a {time}",
            "réserve une table pour {number} à {time}",
            "{time} {number} लोगों के लिए टेबल बुक करो",
            "订一张{time}{number}个人的桌子",
            "{time}に{number}名で席を予約して",
            "จองโต๊ะ{number}ที่ตอน{time}",
        ),
        (
            "reserve a table for {number} people {date} at {time}",
            "Reserviere {date} um {time} einen Tisch für {number} Personen",
            "reserva una mesa para {number} personas {date} a {time}",
            "réserve une table pour {number} personnes {date} à {time}",
            "{date} {time} {number} लोगों के लिए टेबल रिज़र्व करो",
            "预订{date}{time}{number}位的餐桌",
            "{date}の{time}に{number}名で予約をお願いします",
            "จองโต๊ะสำหรับ{number}คน{date}ตอน{time}",
        ),
        (
            "I need a restaurant reservation for {date}",
            "Ich brauche eine Restaurantreservierung für {date}",
            "necesito una reserva en un restaurante para {date}",
            "j'ai besoin d'une réservation au restaurant pour {date}",
            "मुझे {date} के लिए रेस्टोरेंट में बुकिंग चाहिए",
            "帮我订{date}的餐厅",
            "{date}のレストランの予約をお願い",
            "ช่วยจองร้านอาหาร{date}ให้หน่อย",
        ),
        (
            "book a dinner table for {number} {date}",
            "Buch {date} einen Tisch zum Abendessen für {number} Personen",
            "reserva mesa para cenar {date} para {number}",
            "réserve une table pour dîner {date} pour {number}",
            "{date} रात के खाने के लिए {number} लोगों की टेबल बुक करो",
            "{date}晚餐订{number}个人的位子",
            "{date}のディナーを{number}名で予約して",
            "จองโต๊ะมื้อเย็น{date}สำหรับ{number}คน",
        ),
        (
            "can I get a table for {number} at {time} {date}?",
            "Kann ich {date} um {time} einen Tisch für {number} bekommen?",
            "¿me consigues una mesa para {number} {date} a {time}?",
            "tu peux me trouver une table pour {number} {date} à {time} ?",
            "क्या {date} {time} {number} लोगों के लिए टेबल मिल सकती है?",
            "{date}{time}还有{number}个人的位子吗？",
            "{date}の{time}に{number}名で席は取れますか？",
            "{date}ตอน{time}มีโต๊ะสำหรับ{number}คนไหม",
        ),
        (
            "Reserve a table at the Italian place for {time}.",
            "Reservier einen Tisch beim Italiener für {time}.",
            "Reserva una mesa en el italiano para {time}.",
            "Réserve une table chez l'italien pour {time}.",
            "इटैलियन रेस्टोरेंट में {time} के लिए टेबल रिज़र्व करो।",
            "在那家意大利餐厅订一张{time}的桌子。",
            "イタリアンのお店を{time}で予約して。",
            "จองโต๊ะร้านอาหารอิตาเลียนตอน{time}",
        ),
        (
            "we are {number}, book us a table {date}",
            "Wir sind {number}, reservier uns {date} einen Tisch",
            "somos {number}, resérvanos una mesa {date}",
            "on est {number}, réserve-nous une table {date}",
            "हम {number} लोग हैं, {date} के लिए टेबल बुक करो",
            "我们{number}个人，{date}帮我们订个位子",
            "{number}人なので、{date}テーブルを予約して",
            "เรามา{number}คนจองโต๊ะ{date}ให้หน่อย",
        ),
    ],
    "call_contact": [
        (
            "call {contact}",
            "Ruf {contact} an",
            "llama a {contact}",
            "appelle {contact}",
            "{contact} को फ़ोन करो",
            "给{contact}打电话",
            "{contact}に電話して",
            "โทรหา{contact}",
        ),
        (
            "Please dial {contact}'s number",
            "Wähl bitte die Nummer von {contact}",
            "marca el número de {contact}, por favor",
            "compose le numéro de {contact}, s'il te plaît",
            "कृपया {contact} का नंबर मिलाओ",
            "请拨打{contact}的号码",
            "{contact}の番号に発信してください",
            "กรุณาโทรออกไปที่เบอร์ของ{contact}",
        ),
        (
            "can you give {contact} a call",
            "Kannst du {contact} anrufen?",
            "¿puedes llamar a {contact}?",
            "tu peux appeler {contact} ?",
            "क्या तुम {contact} को कॉल कर सकते हो?",
            "能帮我打给{contact}吗",
            "{contact}に電話をかけてくれる？",
            "ช่วยโทรหา{contact}ได้ไหม",
        ),
        (
            "start a video call with {contact}",
            "Starte einen Videoanruf mit {contact}",
            "inicia una videollamada con {contact}",
            "lance un appel vidéo avec {contact}",
            "{contact} के साथ वीडियो कॉल शुरू करो",
            "和{contact}开视频通话",
            "{contact}とビデオ通話を始めて",
            "เริ่มวิดีโอคอลกับ{contact}",
        ),
        (
            "I want to talk to {contact} on the phone",
            "Ich möchte mit {contact} telefonieren",
            "quiero hablar por teléfono con {contact}",
            "je veux parler à {contact} au téléphone",
            "मुझे {contact} से फ़ोन पर बात करनी है",
            "我想和{contact}通电话",
            "{contact}と電話で話したい",
            "อยากคุยโทรศัพท์กับ{contact}",
        ),
        (
            "Call {contact} on speaker.",
            "Ruf {contact} über Lautsprecher an.",
            "Llama a {contact} con el altavoz.",
            "Appelle {contact} en haut-parleur.",
            "{contact} को स्पीकर पर कॉल करो।",
            "用免提给{contact}打电话。",
            "スピーカーで{contact}に電話して。",
            "โทรหา{contact}แบบเปิดลำโพง",
        ),
        (
            "ring {contact} back",
            "Ruf {contact} zurück",
            "devuélvele la llamada a {contact}",
            "rappelle {contact}",
            "{contact} को वापस कॉल करो",
            "给{contact}回个电话",
            "{contact}に折り返し電話して",
            "โทรกลับหา{contact}",
        ),
        (
            "phone {contact} now",
            "Ruf sofort {contact} an",
            "llama ahora mismo a {contact}",
            "appelle {contact} tout de suite",
            "अभी {contact} को कॉल लगाओ",
            "马上打电话给{contact}",
            "今すぐ{contact}に電話をかけて",
            "โทรหา{contact}เดี๋ยวนี้",
        ),
    ],
    "send_message": [
        (
            "send a message to {contact}",
            "Schick {contact} eine Nachricht",
            "envía un mensaje a {contact}",
            "envoie un message à {contact}",
            "{contact} को मैसेज भेजो",
            "给{contact}发一条消息",
            "{contact}にメッセージを送って",
            "ส่งข้อความหา{contact}",
        ),
        (
            "text {contact} that I'll be there at {time}",
            "Schreib {contact}, dass ich um {time} da bin",
            "escríbele a {contact} que llego a {time}",
            "écris à {contact} que j'arrive à {time}",
            "{contact} को मैसेज करो कि मैं {time} तक पहुँच जाऊँगा",
            "发消息告诉{contact}我{time}到",
            "{contact}に{time}に着くってメッセージして",
            "ส่งข้อความบอก{contact}ว่าจะไปถึงตอน{time}",
        ),
        (
            "tell {contact} I'm running late",
            "Sag {contact}, dass ich mich verspäte",
            "dile a {contact} que voy tarde",
            "dis à {contact} que je suis en retard",
            "{contact} को बता दो कि मुझे देर हो रही है",
            "告诉{contact}我要迟到了",
            "{contact}に遅れるって伝えて",
            "บอก{contact}ว่าฉันจะไปสาย",
        ),
        (
            "send {contact} a text saying the meeting moved to {time}",
            "Schick {contact} eine SMS, dass das Meeting auf {time} verschoben ist",
            "mándale un mensaje a {contact} diciendo que la reunión se movió a {time}",
            "envoie un SMS à {contact} pour dire que la réunion est déplacée à {time}",
            "{contact} को मैसेज भेजो कि मीटिंग {time} पर हो गई है",
            "给{contact}发短信说会议改到{time}了",
            "{contact}に会議が{time}に変更になったとメッセージを送って",
            "ส่งข้อความบอก{contact}ว่าประชุมเลื่อนไปเป็น{time}",
        ),
        (
            "message {contact}: dinner is at {time}",
            "Nachricht an {contact}: Abendessen gibt es um {time}",
            "mensaje para {contact}: la cena es a {time}",
            "message à {contact} : le dîner est à {time}",
            "{contact} को संदेश: खाना {time} है",
            "发给{contact}：晚饭{time}开始",
            "{contact}にメッセージ：夕食は{time}からです",
            "ส่งข้อความถึง{contact}ว่ามื้อเย็นเริ่ม{time}",
        ),
        (
            "Write to {contact} on WhatsApp.",
            "Schreib {contact} auf WhatsApp.",
            "Escríbele a {contact} por WhatsApp.",
            "Écris à {contact} sur WhatsApp.",
            "{contact} को व्हाट्सऐप पर लिखो।",
            "用WhatsApp给{contact}发消息。",
            "WhatsAppで{contact}にメッセージして。",
            "ส่งวอตส์แอปหา{contact}",
        ),
        (
            "let {contact} know I'll call at {time}",
            "Gib {contact} Bescheid, dass ich um {time} anrufe",
            "avísale a {contact} que llamaré a {time}",
            "préviens {contact} que j'appellerai à {time}",
            "{contact} को बता दो कि मैं {time} फ़ोन करूँगा",
            "跟{contact}说我{time}打电话",
            "{contact}に{time}に電話するって伝えて",
            "บอก{contact}ว่าจะโทรไปตอน{time}",
        ),
    ],
    "get_directions": [
        (
            "how do I get to the {place}",
            "Wie komme ich {place}?",
            "¿cómo llego {place}?",
            "comment aller {place} ?",
            "{place} कैसे पहुँचूँ?",
            "怎么去{place}",
            "{place}への行き方を教えて",
            "ไป{place}ยังไง",
        ),
        (
            "navigate to the {place}",
            "Navigiere {place}",
            "llévame {place}",
            "emmène-moi {place}",
            "{place} तक नेविगेट करो",
            "导航到{place}",
            "{place}までナビして",
            "นำทางไป{place}",
        ),
        (
            "directions to the {place} in {city}",
            "Route {place} in {city}",
            "indicaciones para ir {place} en {city}",
            "itinéraire pour aller {place} à {city}",
            "{city} में {place} का रास्ता",
            "去{city}{place}的路线",
            "{city}の{place}までの道順",
            "เส้นทางไป{place}ใน{city}",
        ),
        (
            "what's the fastest way to the {place}?",
            "Was ist der schnellste Weg {place}?",
            "¿cuál es el camino más rápido {place}?",
            "quel est le chemin le plus rapide pour aller {place} ?",
            "{place} जाने का सबसे तेज़ रास्ता क्या है?",
            "去{place}最快的路怎么走？",
            "{place}まで一番早い行き方は？",
            "ไป{place}ทางไหนเร็วที่สุด",
        ),
        (
            "Show me the way to the {place}.",
            "Zeig mir den Weg {place}.",
            "Muéstrame el camino {place}.",
            "Montre-moi le chemin pour aller {place}.",
            "मुझे {place} का रास्ता दिखाओ।",
            "给我指一下去{place}的路。",
            "{place}までの道を教えてください。",
            "ช่วยบอกทางไป{place}หน่อย",
        ),
        (
            "how far is it to the {place}",
            "Wie weit ist es {place}?",
            "¿cuánto se tarda en llegar {place}?",
            "combien de temps pour aller {place} ?",
            "{place} कितनी दूर है?",
            "到{place}有多远",
            "{place}までどのくらいかかる？",
            "ไป{place}ไกลไหม",
        ),
        (
            "take me to the {place} in {city}",
            "Bring mich {place} in {city}",
            "llévame {place} de {city}",
            "emmène-moi {place} de {city}",
            "मुझे {city} में {place} ले चलो",
            "带我去{city}的{place}",
            "{city}の{place}に連れて行って",
            "พาฉันไป{place}ที่{city}",
        ),
        (
            "find a route to the {place} avoiding traffic",
            "Finde eine Route {place} ohne Stau",
            "busca una ruta {place} sin tráfico",
            "trouve un itinéraire pour aller {place} sans bouchons",
            "{place} तक बिना ट्रैफ़िक वाला रास्ता ढूँढो",
            "找一条避开拥堵去{place}的路线",
            "渋滞を避けて{place}へのルートを探して",
            "หาเส้นทางไป{place}ที่เลี่ยงรถติด",
        ),
    ],
    "translate_text": [
        (
            'translate "{phrase}" into {language}',
            "Übersetze „{phrase}“ auf {language}",
            'traduce "{phrase}" al {language}',
            "traduis « {phrase} » en {language}",
            '"{phrase}" का {language} में अनुवाद करो',
            "把“{phrase}”翻译成{language}",
            "「{phrase}」を{language}に翻訳して",
            'แปล"{phrase}"เป็น{language}',
        ),
        (
            "how do you say {phrase} in {language}",
            "Wie sagt man {phrase} auf {language}?",
            "¿cómo se dice {phrase} en {language}?",
            "comment dit-on {phrase} en {language} ?",
            "{language} में {phrase} कैसे कहते हैं?",
            "{phrase}用{language}怎么说",
            "{phrase}は{language}で何と言いますか",
            "{phrase}{language}พูดว่าอะไร",
        ),
        (
            "what is {phrase} in {language}",
            "Was heißt {phrase} auf {language}?",
            "¿qué es {phrase} en {language}?",
            "c'est quoi {phrase} en {language} ?",
            "{language} में {phrase} को क्या कहते हैं?",
            "{language}的{phrase}是什么",
            "{language}で{phrase}って何？",
            "{phrase}ใน{language}คืออะไร",
        ),
        (
            "Translate this to {language}: {phrase}",
            "Übersetze das auf {language}: {phrase}",
            "Traduce esto al {language}: {phrase}",
            "Traduis ça en {language} : {phrase}",
            "इसे {language} में अनुवाद करो: {phrase}",
            "把这句翻译成{language}：{phrase}",
            "これを{language}に訳して：{phrase}",
            "ช่วยแปลประโยคนี้เป็น{language}:{phrase}",
        ),
        (
            "give me the {language} translation of {phrase}",
            "Gib mir die Übersetzung von {phrase} auf {language}",
            "dame la traducción de {phrase} al {language}",
            "donne-moi la traduction de « {phrase} » en {language}",
            "मुझे {phrase} का {language} अनुवाद बताओ",
            "告诉我{phrase}的{language}翻译",
            "{phrase}の{language}訳を教えて",
            "บอกคำแปล{phrase}เป็น{language}หน่อย",
        ),
        (
            "can you translate {phrase} to {language} for me?",
            "Kannst du {phrase} für mich auf {language} übersetzen?",
            "¿me puedes traducir {phrase} al {language}?",
            "tu peux me traduire « {phrase} » en {language} ?",
            "क्या तुम मेरे लिए {phrase} को {language} में ट्रांसलेट कर सकते हो?",
            "你能帮我把{phrase}翻译成{language}吗？",
            "{phrase}を{language}に翻訳してくれる？",
            "ช่วยแปล{phrase}เป็น{language}ให้หน่อยได้ไหม",
        ),
        (
            "{phrase} in {language} please",
            "{phrase} auf {language} bitte",
            "{phrase} en {language}, por favor",
            "{phrase} en {language} s'il te plaît",
            "{phrase} {language} में, प्लीज़",
            "请把{phrase}翻成{language}",
            "{phrase}を{language}でお願い",
            "{phrase}เป็น{language}หน่อย",
        ),
    ],
    "turn_on_lights": [
        (
            "turn on the lights in the {room}",
            "Mach das Licht {room} an",
            "enciende las luces en {room}",
            "allume la lumière dans {room}",
            "{room} की लाइट जलाओ",
            "打开{room}的灯",
            "{room}の電気をつけて",
            "เปิดไฟ{room}",
        ),
        (
            "switch the {room} lights on",
            "Schalte das Licht {room} ein",
            "prende la luz en {room}",
            "mets la lumière dans {room}",
            "{room} में लाइट ऑन करो",
            "把{room}的灯打开",
            "{room}のライトをオンにして",
            "เปิดไฟใน{room}ให้หน่อย",
        ),
        (
            "lights on in the {room} please",
            "Licht an {room}, bitte",
            "luz en {room}, por favor",
            "de la lumière dans {room} s'il te plaît",
            "{room} में रोशनी कर दो, प्लीज़",
            "{room}开灯",
            "{room}、電気つけて",
            "ช่วยเปิดไฟ{room}หน่อย",
        ),
        (
            "turn on the {room} lights at {time}",
            "Schalte um {time} das Licht {room} an",
            "enciende las luces en {room} a {time}",
            "allume la lumière dans {room} à {time}",
            "{time} {room} की लाइट चालू कर देना",
            "{time}打开{room}的灯",
            "{time}に{room}の電気をつけて",
            "เปิดไฟ{room}ตอน{time}",
        ),
        (
            "it's too dark in the {room}, turn the light on",
            "Es ist zu dunkel {room}, mach das Licht an",
            "está muy oscuro en {room}, enciende la luz",
            "il fait trop sombre dans {room}, allume la lumière",
            "{room} में बहुत अंधेरा है, लाइट जला दो",
            "{room}太暗了，开一下灯",
            "{room}が暗いから電気をつけて",
            "{room}มืดเกินไปเปิดไฟหน่อย",
        ),
        (
            "Can you turn the {room} light on at {time}?",
            "Kannst du das Licht {room} um {time} einschalten?",
            "¿Puedes encender la luz en {room} a {time}?",
            "Tu peux allumer la lumière dans {room} à {time} ?",
            "क्या तुम {time} {room} की लाइट ऑन कर सकते हो?",
            "能在{time}把{room}的灯打开吗？",
            "{time}に{room}のライトをつけてくれる？",
            "เปิดไฟ{room}ตอน{time}ได้ไหม",
        ),
        (
            "brighten the lights in the {room}",
            "Mach das Licht {room} heller",
            "sube la luz en {room}",
            "augmente la lumière dans {room}",
            "{room} की लाइट तेज़ करो",
            "把{room}的灯调亮",
            "{room}の照明を明るくして",
            "เพิ่มความสว่างไฟใน{room}",
        ),
    ],
    "turn_off_lights": [
        (
            "turn off the lights in the {room}",
            "Mach das Licht {room} aus",
            "apaga las luces en {room}",
            "éteins la lumière dans {room}",
            "{room} की लाइट बंद करो",
            "关掉{room}的灯",
            "{room}の電気を消して",
            "ปิดไฟ{room}",
        ),
        (
            "switch the {room} lights off",
            "Schalte das Licht {room} aus",
            "desconecta la luz en {room}",
            "coupe la lumière dans {room}",
            "{room} में लाइट ऑफ़ करो",
            "把{room}的灯关了",
            "{room}のライトをオフにして",
            "ปิดไฟใน{room}ให้หน่อย",
        ),
        (
            "lights off in the {room} please",
            "Licht aus {room}, bitte",
            "apágame la luz en {room}, por favor",
            "plus de lumière dans {room} s'il te plaît",
            "{room} में अंधेरा कर दो, प्लीज़",
            "{room}关灯",
            "{room}、電気消して",
            "ช่วยปิดไฟ{room}หน่อย",
        ),
        (
            "turn off the {room} lights at {time}",
            "Schalte um {time} das Licht {room} aus",
            "apaga las luces en {room} a {time}",
            "éteins la lumière dans {room} à {time}",
            "{time} {room} की लाइट बंद कर देना",
            "{time}关掉{room}的灯",
            "{time}に{room}の電気を消して",
            "ปิดไฟ{room}ตอน{time}",
        ),
        (
            "it's too bright in the {room}, turn the light off",
            "Es ist zu hell {room}, mach das Licht aus",
            "hay demasiada luz en {room}, apágala",
            "il y a trop de lumière dans {room}, éteins-la",
            "{room} में बहुत रोशनी है, लाइट बंद कर दो",
            "{room}太亮了，关一下灯",
            "{room}がまぶしいから電気を消して",
            "{room}สว่างเกินไปปิดไฟหน่อย",
        ),
        (
            "Can you turn the {room} light off at {time}?",
            "Kannst du das Licht {room} um {time} ausschalten?",
            "¿Puedes apagar la luz en {room} a {time}?",
            "Tu peux éteindre la lumière dans {room} à {time} ?",
            "क्या तुम {time} {room} की लाइट ऑफ़ कर सकते हो?",
            "能在{time}把{room}的灯关掉吗？",
            "{time}に{room}のライトを消してくれる？",
            "ปิดไฟ{room}ตอน{time}ได้ไหม",
        ),
        (
            "I'm going to sleep, switch off the {room} light",
            "Ich gehe schlafen, mach das Licht {room} aus",
            "me voy a dormir, apaga la luz en {room}",
            "je vais dormir, éteins la lumière dans {room}",
            "मैं सोने जा रहा हूँ, {room} की लाइट बंद करो",
            "我要睡了，把{room}的灯关掉",
            "もう寝るから{room}の電気を消して",
            "จะนอนแล้วปิดไฟ{room}ให้หน่อย",
        ),
    ],
    "transfer_money": [
        (
            "send {amount} to {contact}",
            "Überweise {amount} an {contact}",
            "envía {amount} a {contact}",
            "envoie {amount} à {contact}",
            "{contact} को {amount} भेजो",
            "给{contact}转{amount}",
            "{contact}に{amount}送金して",
            "โอน{amount}ให้{contact}",
        ),
        (
            "transfer {amount} to {contact}'s account",
            "Überweis {amount} auf das Konto von {contact}",
            "transfiere {amount} a la cuenta de {contact}",
            "vire {amount} sur le compte de {contact}",
            "{contact} के खाते में {amount} ट्रांसफ़र करो",
            "转{amount}到{contact}的账户",
            "{contact}の口座に{amount}を振り込んで",
            "โอนเงิน{amount}เข้าบัญชีของ{contact}",
        ),
        (
            "pay {contact} {amount}",
            "Zahl {contact} {amount}",
            "págale {amount} a {contact}",
            "paie {amount} à {contact}",
            "{contact} को {amount} का भुगतान करो",
            "付给{contact}{amount}",
            "{contact}に{amount}払って",
            "จ่าย{amount}ให้{contact}",
        ),
        (
            "I owe {contact} {amount}, send it now",
            "Ich schulde {contact} {amount}, überweis das jetzt",
            "le debo {amount} a {contact}, envíaselo ahora",
            "je dois {amount} à {contact}, envoie-les maintenant",
            "मुझे {contact} को {amount} देने हैं, अभी भेज दो",
            "我欠{contact}{amount}，现在转过去",
            "{contact}に{amount}借りてるから今送って",
            "ฉันติดเงิน{contact}{amount}โอนให้เลย",
        ),
        (
            "Can you wire {amount} to {contact}?",
            "Kannst du {amount} an {contact} überweisen?",
            "¿Puedes transferirle {amount} a {contact}?",
            "Tu peux virer {amount} à {contact} ?",
            "क्या तुम {contact} को {amount} ट्रांसफ़र कर सकते हो?",
            "能帮我给{contact}汇{amount}吗？",
            "{contact}に{amount}を送金してくれる？",
            "ช่วยโอน{amount}ให้{contact}ได้ไหม",
        ),
        (
            "make a transfer of {amount} to {contact}",
            "Schick {contact} {amount}",
            "mándale {amount} a {contact}",
            "fais un virement de {amount} à {contact}",
            "{contact} के लिए {amount} का ट्रांसफ़र करो",
            "给{contact}打{amount}",
            "{contact}へ{amount}の振込をお願い",
            "ส่งเงิน{amount}ไปให้{contact}",
        ),
        (
            "split the bill with {contact} and send {amount}",
            "Teil die Rechnung mit {contact} und schick {amount}",
            "divide la cuenta con {contact} y envíale {amount}",
            "partage l'addition avec {contact} et envoie {amount}",
            "{contact} के साथ बिल बाँटो और {amount} भेजो",
            "和{contact}平摊账单，转{amount}过去",
            "{contact}と割り勘にして{amount}送って",
            "หารบิลกับ{contact}แล้วโอน{amount}ไป",
        ),
    ],
}

_PLACEHOLDER = re.compile(r"\{([a-z]+)(\d*)\}")

Span = tuple[int, int, str]
Choice = tuple[int, tuple[tuple[str, int], ...]]
"""One example before rendering: (template index, ((placeholder name, value index), ...))."""


def _slot_type(name: str) -> str:
    """``city2`` -> ``city``."""
    return name.rstrip("0123456789")


def _placeholders(template: str) -> list[str]:
    return [m.group(1) + m.group(2) for m in _PLACEHOLDER.finditer(template)]


def _surface(value: str) -> tuple[str, int, int]:
    """A slot value without its ``[...]`` markers, and the labelled part's offsets in it."""
    if "[" not in value:
        return value, 0, len(value)
    start, end = value.index("["), value.index("]")
    return value[:start] + value[start + 1 : end] + value[end + 1 :], start, end - 1


def render(template: str, lang: str, values: dict[str, int]) -> tuple[str, list[Span]]:
    """Fill ``template`` (one language's version) with the ``lang`` values; return the text and its spans."""
    column = LANGS.index(lang)
    pieces: list[str] = []
    spans: list[Span] = []
    length = last = 0
    for m in _PLACEHOLDER.finditer(template):
        name = m.group(1) + m.group(2)
        pieces.append(template[last : m.start()])
        length += m.start() - last
        surface, start, end = _surface(SLOT_VALUES[m.group(1)][values[name]][column])
        spans.append((length + start, length + end, m.group(1)))
        pieces.append(surface)
        length += len(surface)
        last = m.end()
    pieces.append(template[last:])
    return "".join(pieces), sorted(spans)


def check_data() -> None:
    """Fail on a malformed lexicon or template (wrong arity, placeholders differing across languages)."""
    for slot, rows in SLOT_VALUES.items():
        for row in rows:
            if len(row) != len(LANGS) or any(not v.strip() or v.count("[") != v.count("]") for v in row):
                raise ValueError(f"slot value {row!r} of {slot!r} is malformed")
    for intent, rows in TEMPLATES.items():
        for i, row in enumerate(rows):
            if len(row) != len(LANGS):
                raise ValueError(f"template {intent}[{i}] has {len(row)} languages, expected {len(LANGS)}")
            names = [sorted(_placeholders(t)) for t in row]
            if any(n != names[0] for n in names) or len(set(names[0])) != len(names[0]):
                raise ValueError(f"template {intent}[{i}] uses different placeholders across languages: {names}")
            unknown = {_slot_type(n) for n in names[0]} - set(SLOT_VALUES)
            if unknown:
                raise ValueError(f"template {intent}[{i}] uses unknown slot types {sorted(unknown)}")


def _allocate(total: int, capacities: Sequence[int]) -> list[int]:
    """Split ``total`` as evenly as possible over bins without exceeding any bin's capacity."""
    quotas = [0] * len(capacities)
    open_bins = [i for i, cap in enumerate(capacities) if cap > 0]
    remaining = total
    while remaining > 0 and open_bins:
        share, extra = divmod(remaining, len(open_bins))
        for rank, i in enumerate(open_bins):
            give = min(share + (rank < extra), capacities[i] - quotas[i])
            quotas[i] += give
            remaining -= give
        open_bins = [i for i in open_bins if quotas[i] < capacities[i]]
    return quotas


def _choices(intent: str, seen: dict[str, set[str]]) -> list[list[Choice]]:
    """Every slot filling of every template of ``intent`` whose rendering is new in all languages."""
    by_template: list[list[Choice]] = []
    for t, row in enumerate(TEMPLATES[intent]):
        names = _placeholders(row[0])
        ranges = [range(len(SLOT_VALUES[_slot_type(n)])) for n in names]
        choices: list[Choice] = []
        for idx in itertools.product(*ranges):
            pairs = tuple(zip(names, idx, strict=True))
            slots = [(_slot_type(n), i) for n, i in pairs]
            if len(set(slots)) != len(slots):  # the same value twice (from Berlin to Berlin)
                continue
            texts = [render(row[k], lang, dict(pairs))[0] for k, lang in enumerate(LANGS)]
            if any(text in seen[lang] for lang, text in zip(LANGS, texts, strict=True)):
                continue
            for lang, text in zip(LANGS, texts, strict=True):
                seen[lang].add(text)
            choices.append((t, pairs))
        by_template.append(choices)
    return by_template


def build_examples(seed: int = SEED, size: int = TARGET_SIZE) -> list[dict]:
    """Draw the parallel examples: id, split, intent, template index and slot value indices."""
    check_data()
    rng = random.Random(seed)
    seen: dict[str, set[str]] = {lang: set() for lang in LANGS}
    pools = {intent: _choices(intent, seen) for intent in TEMPLATES}
    intent_quota = _allocate(size, [sum(map(len, pools[i])) for i in TEMPLATES])
    drawn: list[dict] = []
    for intent, quota in zip(TEMPLATES, intent_quota, strict=True):
        picked: list[Choice] = []
        template_quota = _allocate(quota, [len(c) for c in pools[intent]])
        for choices, k in zip(pools[intent], template_quota, strict=True):
            picked.extend(rng.sample(choices, k))
        rng.shuffle(picked)
        n_dev, n_test = round(quota * DEV_FRACTION), round(quota * TEST_FRACTION)
        splits = ["dev"] * n_dev + ["test"] * n_test + ["train"] * (quota - n_dev - n_test)
        for (template, pairs), split in zip(picked, splits, strict=True):
            drawn.append({"split": split, "intent": intent, "template": template, "values": dict(pairs)})
    rng.shuffle(drawn)
    for i, example in enumerate(drawn):
        example["id"] = f"demo-{i:06d}"
    return drawn


def render_language(examples: list[dict], lang: str) -> list[dict]:
    """The JSONL records of one language, in id order."""
    column = LANGS.index(lang)
    records = []
    for ex in examples:
        text, spans = render(TEMPLATES[ex["intent"]][ex["template"]][column], lang, ex["values"])
        records.append(
            {
                "id": ex["id"],
                "split": ex["split"],
                "language": lang,
                "text": text,
                "intent": ex["intent"],
                "spans": [list(s) for s in spans],
            }
        )
    return records


def _gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip: no file name, mtime 0."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as f:
        f.write(data)
    return buffer.getvalue()


def _intent_slot_types(intent: str) -> list[str]:
    return sorted({_slot_type(p) for row in TEMPLATES[intent] for p in _placeholders(row[0])})


def _readme(examples: list[dict]) -> str:
    """The dataset card, with the counts of this build."""
    splits = Counter(ex["split"] for ex in examples)
    intents = Counter(ex["intent"] for ex in examples)
    slot_types = sorted(SLOT_VALUES)
    intent_lines = "\n".join(
        f"| `{i}` | {n} | {', '.join(_intent_slot_types(i))} |" for i, n in sorted(intents.items())
    )
    return f"""# distillx demo dataset

A small multilingual intent classification + slot filling dataset, generated from templates by
`distillx.data.demo_generate` and shipped inside the package so that the demo runs offline.

- Languages: {", ".join(LANGS)} (one `{{lang}}.jsonl.gz` per language). zh, ja and th are unsegmented.
- Parallel: the same `id` has the same meaning, split, intent and slot labels in every language.
- Examples per language: {len(examples)}: train {splits["train"]}, dev {splits["dev"]}, \
test {splits["test"]}.
- {len(intents)} intents, {len(slot_types)} slot types: {", ".join(f"`{s}`" for s in slot_types)}.

One JSON object per line, sorted by id:

```json
{{"id": "demo-000042", "split": "train", "language": "zh", "text": "帮我订一张明天去北京的机票", \
"intent": "book_flight", "spans": [[5, 7, "date"], [8, 10, "city"]]}}
```

`spans` are character offsets into `text` (start inclusive, end exclusive) with the slot type.

| intent | examples | slot types |
|---|---|---|
{intent_lines}

Regenerate (byte-identical output): `python -m distillx.data.demo_generate [OUT_DIR]`.

License: written by the distillx authors; Apache-2.0, like the rest of distillx.
"""


def write_demo(out_dir: str | Path = DEFAULT_OUT_DIR, seed: int = SEED, size: int = TARGET_SIZE) -> list[Path]:
    """Write ``{lang}.jsonl.gz`` for every language and README.md into ``out_dir``; return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    examples = build_examples(seed, size)
    written = []
    for lang in LANGS:
        lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in render_language(examples, lang)]
        path = out / f"{lang}.jsonl.gz"
        path.write_bytes(_gzip_bytes("".join(lines).encode("utf-8")))
        written.append(path)
    readme = out / "README.md"
    readme.write_text(_readme(examples), encoding="utf-8")
    written.append(readme)
    return written


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    out_dir = Path(args[0]) if args else DEFAULT_OUT_DIR
    for path in write_demo(out_dir):
        print(path)


if __name__ == "__main__":
    main()
