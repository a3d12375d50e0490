"""Realistic image descriptions and model-style predictions, per default language.

Provenance: written for these tests by the mella contributors (no external corpus); each pair is a
reference caption and a plausible, imperfect model description of the same picture.
"""

# (reference, prediction) pairs.
PAIRS: dict[str, list[tuple[str, str]]] = {
    "ar": [
        ("يظهر في الصورة برج خليفة في دبي، وهو أطول مبنى في العالم.",
         "برج خليفة في مدينة دبي هو أطول مبنى في العالم."),
        ("رجل يرتدي الثوب الأبيض ويقدم القهوة العربية للضيوف.",
         "رجل بالثوب الأبيض يصب القهوة العربية في فناجين صغيرة."),
        ("«سوق الحميدية» في دمشق مزدحم بالناس؛ هل تعرف تاريخه؟",
         "سوق الحميدية في دمشق القديمة مليء بالمتسوقين."),
        ("امرأة تطبخ الكُسْكُس في قِدْرٍ كبير.", "امرأة تطبخ الكسكس في قدر كبير"),
    ],
    "cs": [
        ("Karlův most v Praze je plný turistů při západu slunce.",
         "Na obrázku je Karlův most přes Vltavu v Praze, kde se prochází turisté."),
        ("Skupina lidí v krojích tančí na vesnické slavnosti.",
         "Lidé v tradičních krojích tančí na slavnosti na Moravě."),
        ("„Svíčková na smetaně“ s knedlíky na bílém talíři.",
         "Talíř se svíčkovou omáčkou a houskovými knedlíky."),
        ("Okolo stojí děti.", "Kolo stojí u zdi."),
    ],
    "hu": [
        ("A budapesti Parlament épülete a Duna partján áll.",
         "A képen a Parlament látható Budapesten, a Duna mellett."),
        ("Egy asszony gulyáslevest főz egy nagy bográcsban.",
         "Egy nő gulyást főz a bográcsban a szabadban."),
        ("Hagyományos népviseletbe öltözött lányok táncolnak.",
         "Népviseletes lányok táncolnak a falu ünnepén."),
    ],
    "ko": [
        ("경복궁은 조선 시대에 지어진 궁궐로 서울 종로구에 있습니다.",
         "서울에 있는 경복궁은 조선 왕조의 궁궐입니다."),
        ("한복을 입은 여성들이 전통 춤을 추고 있다.",
         "전통 한복을 입은 여자들이 춤을 추고 있습니다."),
        ("김치찌개가 뚝배기에 담겨 끓고 있다.", "뚝배기에 담긴 김치찌개입니다."),
    ],
    "ru": [
        ("Собор Василия Блаженного на Красной площади в Москве.",
         "На фотографии изображён храм Василия Блаженного на Красной площади."),
        ("Женщина в платке печёт блины на кухне.",
         "Пожилая женщина печёт блины с икрой на кухне."),
        ("«Матрёшки» разных размеров стоят на полке.",
         "На полке стоят расписные матрёшки."),
    ],
    "sr": [
        ("Храм Светог Саве у Београду је један од највећих православних храмова.",
         "Hram Svetog Save u Beogradu je veliki pravoslavni hram."),
        ("Људи играју коло на сеоском слављу.",
         "Ljudi igraju kolo na seoskoj proslavi."),
        ("Kajmak i ajvar na drvenoj dasci.", "Ајвар и кајмак на дасци."),
    ],
    "th": [
        ("วัดพระแก้วตั้งอยู่ในเขตพระนครกรุงเทพมหานคร",
         "วัดพระแก้วอยู่ที่กรุงเทพมหานคร"),
        ("ผู้หญิงกำลังทำส้มตำในครัว", "หญิงสาวทำส้มตำอยู่ในครัว"),
        ("ตลาดน้ำดำเนินสะดวกมีเรือขายผลไม้มากมาย", "เรือขายผลไม้ที่ตลาดน้ำดำเนินสะดวก"),
    ],
    "vi": [
        ("Văn Miếu Quốc Tử Giám là trường đại học đầu tiên của Việt Nam.",
         "Văn Miếu ở Hà Nội là trường đại học đầu tiên của Việt Nam."),
        ("Người phụ nữ mặc áo dài trắng đạp xe trên phố.",
         "Một cô gái mặc áo dài trắng đi xe đạp."),
        ("Bát phở bò với hành và rau thơm.", "Một bát phở bò nóng hổi có rau thơm."),
    ],
}
