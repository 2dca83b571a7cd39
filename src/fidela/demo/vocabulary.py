"""Word lists of the demo data: names, cities with their time zones, and phrase templates.

Everything textual in the generated tables is an index into one of these tuples, so text columns
cost one ``take`` per block and the vocabulary can be read, reviewed and translated here. Names are
common French and English given names and surnames (no real person is described: combinations are
random and emails use reserved example domains). Phrase templates are grouped by language and
sentiment so a survey comment or a review always agrees with its score.
"""

from __future__ import annotations

from dataclasses import dataclass


def _words(text: str) -> tuple[str, ...]:
    """Whitespace-separated words, in order (compact lists of single-word names)."""
    return tuple(text.split())


LANGUAGES: tuple[str, ...] = ("fr", "en")
GENDERS: tuple[str, ...] = ("female", "male", "other", "unknown")
SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")

FIRST_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "fr": {
        "female": _words(
            """
            Marie Camille Léa Manon Chloé Emma Inès Jade Louise Sarah Julie Laura Pauline
            Mathilde Claire Anne Sophie Isabelle Nathalie Céline Aurélie Élodie Hélène Juliette
            Margaux Lucie Clémence Océane Amandine Charlotte Agathe Zoé Alice Lina Rose Anaïs
            Émilie Valérie Sandrine Françoise Brigitte Martine Catherine Sylvie Christine Noémie
            Maëlle Solène Romane Capucine
            """
        ),
        "male": _words(
            """
            Jean Pierre Lucas Hugo Louis Gabriel Arthur Jules Thomas Nicolas Julien Antoine
            Maxime Alexandre Mathieu Romain Guillaume Benoît François Philippe Michel Alain
            Patrick Laurent Stéphane Sébastien Olivier Christophe Frédéric Éric Théo Raphaël Léo
            Nathan Enzo Baptiste Clément Quentin Adrien Bastien Jérôme Cédric Yannick Gaëtan
            Loïc Hervé Didier Thierry Mathis Noé
            """
        ),
    },
    "en": {
        "female": _words(
            """
            Olivia Amelia Isla Ava Emily Sophia Grace Mia Poppy Ella Lily Evie Isabella
            Charlotte Freya Ivy Florence Harper Sienna Daisy Jessica Hannah Rebecca Lauren Emma
            Sarah Rachel Laura Megan Chloe Abigail Madison Ashley Samantha Victoria Elizabeth
            Catherine Margaret Susan Karen Helen Alison Joanne Nicola Claire Kirsty Fiona Morgan
            Taylor Brooke
            """
        ),
        "male": _words(
            """
            Oliver George Noah Arthur Harry Leo Muhammad Jack Charlie Oscar Jacob Henry Thomas
            Freddie Alfie Theodore William James Joshua Archie Daniel Matthew Ryan Liam Ethan
            Lucas Benjamin Samuel Alexander Joseph David Michael Andrew Mark Paul Richard
            Stephen Christopher Robert Ian Gareth Rhys Callum Connor Owen Logan Nathan Tyler
            Dylan Mason
            """
        ),
    },
}

LAST_NAMES: dict[str, tuple[str, ...]] = {
    "fr": _words(
        """
        Martin Bernard Thomas Petit Robert Richard Durand Dubois Moreau Laurent Simon Michel
        Lefebvre Leroy Roux David Bertrand Morel Fournier Girard Bonnet Dupont Lambert Fontaine
        Rousseau Vincent Muller Lefèvre Faure André Mercier Blanc Guérin Boyer Garnier Chevalier
        François Legrand Gauthier Garcia Perrin Robin Clément Morin Nicolas Henry Roussel
        Mathieu Gautier Masson Marchand Duval Denis Dumont Marie Lemaire Noël Meyer Dufour
        Meunier Brun Blanchard Giraud Joly Rivière Lucas Brunet Gaillard Barbier Arnaud Martinez
        Gérard Roche Renard Schmitt Roy Leroux Colin Vidal Caron Picard Roger Fabre Aubert
        Lemoine Renaud Dumas Lacroix Olivier Philippe Bourgeois Pierre Benoît Rey Leclerc Payet
        Rolland Leclercq Guillaume Lecomte Tremblay Gagnon Côté Bouchard Ouellet Pelletier
        Bélanger
        """
    ),
    "en": _words(
        """
        Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson
        Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson
        Wood Turner Martin Cooper Hill Ward Morris Moore Clark Lee King Baker Harrison Morgan
        Allen James Scott Phillips Watson Davis Parker Price Bennett Young Griffiths Mitchell
        Kelly Cook Carter Richardson Bailey Collins Bell Shaw Murphy Miller Cox Richards Khan
        Marshall Anderson Simpson Ellis Adams Singh Begum Wilkinson Foster Chapman Powell Webb
        Rogers Gray Mason Ali Hunt Hussain Campbell Matthews Owen Palmer Holmes Mills Barnes
        Knight Lloyd Butler Russell Barker Fisher Stevens Jenkins Murray Dixon Harvey MacDonald
        Stewart Reid Fraser Wong Nguyen Li Chen
        """
    ),
}


@dataclass(frozen=True)
class City:
    """A city customers live in and stores open in. ``french_share`` is the share of
    French-speaking customers there; ``stores`` how many demo stores it hosts."""

    name: str
    country: str
    timezone: str
    weight: float
    french_share: float
    stores: int


CITIES: tuple[City, ...] = (
    City("Paris", "FR", "Europe/Paris", 22.0, 0.97, 6),
    City("Marseille", "FR", "Europe/Paris", 8.7, 0.97, 2),
    City("Lyon", "FR", "Europe/Paris", 7.5, 0.97, 2),
    City("Toulouse", "FR", "Europe/Paris", 5.0, 0.97, 1),
    City("Nice", "FR", "Europe/Paris", 3.4, 0.95, 1),
    City("Nantes", "FR", "Europe/Paris", 3.2, 0.97, 1),
    City("Montpellier", "FR", "Europe/Paris", 3.0, 0.97, 1),
    City("Strasbourg", "FR", "Europe/Paris", 2.9, 0.97, 1),
    City("Bordeaux", "FR", "Europe/Paris", 2.6, 0.97, 1),
    City("Lille", "FR", "Europe/Paris", 2.4, 0.97, 1),
    City("Rennes", "FR", "Europe/Paris", 2.2, 0.97, 1),
    City("Reims", "FR", "Europe/Paris", 1.8, 0.98, 0),
    City("Toulon", "FR", "Europe/Paris", 1.7, 0.98, 0),
    City("Grenoble", "FR", "Europe/Paris", 1.6, 0.97, 1),
    City("Dijon", "FR", "Europe/Paris", 1.6, 0.98, 0),
    City("Angers", "FR", "Europe/Paris", 1.5, 0.98, 0),
    City("Nîmes", "FR", "Europe/Paris", 1.5, 0.98, 0),
    City("Clermont-Ferrand", "FR", "Europe/Paris", 1.4, 0.98, 0),
    City("Le Havre", "FR", "Europe/Paris", 1.6, 0.98, 0),
    City("Tours", "FR", "Europe/Paris", 1.4, 0.98, 1),
    City("Limoges", "FR", "Europe/Paris", 1.3, 0.98, 0),
    City("Amiens", "FR", "Europe/Paris", 1.3, 0.98, 0),
    City("Metz", "FR", "Europe/Paris", 1.2, 0.98, 0),
    City("Besançon", "FR", "Europe/Paris", 1.2, 0.98, 0),
    City("Perpignan", "FR", "Europe/Paris", 1.2, 0.98, 0),
    City("Orléans", "FR", "Europe/Paris", 1.1, 0.98, 0),
    City("Rouen", "FR", "Europe/Paris", 1.1, 0.98, 1),
    City("Caen", "FR", "Europe/Paris", 1.1, 0.98, 0),
    City("Brest", "FR", "Europe/Paris", 1.4, 0.98, 0),
    City("Annecy", "FR", "Europe/Paris", 1.3, 0.97, 0),
    City("London", "GB", "Europe/London", 9.0, 0.02, 4),
    City("Birmingham", "GB", "Europe/London", 2.5, 0.01, 1),
    City("Manchester", "GB", "Europe/London", 2.2, 0.01, 1),
    City("Leeds", "GB", "Europe/London", 1.6, 0.01, 0),
    City("Glasgow", "GB", "Europe/London", 1.3, 0.01, 1),
    City("Liverpool", "GB", "Europe/London", 1.1, 0.01, 0),
    City("Bristol", "GB", "Europe/London", 1.0, 0.01, 1),
    City("Sheffield", "GB", "Europe/London", 1.0, 0.01, 0),
    City("Edinburgh", "GB", "Europe/London", 1.0, 0.01, 1),
    City("Cardiff", "GB", "Europe/London", 0.8, 0.01, 0),
    City("Newcastle upon Tyne", "GB", "Europe/London", 0.7, 0.01, 0),
    City("Nottingham", "GB", "Europe/London", 0.7, 0.01, 0),
    City("Brighton", "GB", "Europe/London", 0.6, 0.01, 0),
    City("Montréal", "CA", "America/Toronto", 4.0, 0.85, 2),
    City("Québec", "CA", "America/Toronto", 1.3, 0.95, 1),
    City("Gatineau", "CA", "America/Toronto", 0.5, 0.8, 0),
    City("Toronto", "CA", "America/Toronto", 5.5, 0.04, 2),
    City("Ottawa", "CA", "America/Toronto", 1.8, 0.15, 1),
    City("Hamilton", "CA", "America/Toronto", 0.9, 0.02, 0),
    City("Vancouver", "CA", "America/Vancouver", 2.5, 0.02, 1),
    City("Calgary", "CA", "America/Edmonton", 1.5, 0.02, 1),
    City("Edmonton", "CA", "America/Edmonton", 1.3, 0.02, 0),
    City("Winnipeg", "CA", "America/Winnipeg", 0.8, 0.04, 1),
    City("Halifax", "CA", "America/Halifax", 0.5, 0.03, 1),
)

# Share of customers per country; cities are then drawn by weight within their country.
COUNTRY_SHARES: dict[str, float] = {"FR": 0.62, "GB": 0.23, "CA": 0.15}

TIMEZONES: tuple[str, ...] = tuple(dict.fromkeys(city.timezone for city in CITIES))

# Reserved example domains (RFC 2606) and subdomains of them: no real mailbox can be hit.
EMAIL_DOMAINS: tuple[str, ...] = (
    "example.com",
    "example.org",
    "example.net",
    "mail.example.com",
    "post.example.org",
    "inbox.example.net",
)
EMAIL_DOMAIN_WEIGHTS: tuple[float, ...] = (0.34, 0.18, 0.16, 0.14, 0.1, 0.08)

INTEREST_LIFESTYLES: tuple[str, ...] = ("eco", "deals", "premium", "family", "travel", "wellness")

SUPPORT_CHANNELS: tuple[str, ...] = ("chat", "email", "phone", "social")
SUPPORT_TOPICS: tuple[str, ...] = (
    "delivery",
    "return",
    "product",
    "loyalty_points",
    "payment",
    "account",
    "refund_delay",
    "damaged_item",
    "store_experience",
)
RETURN_REASONS: tuple[str, ...] = (
    "too_small",
    "too_large",
    "damaged",
    "not_as_described",
    "changed_mind",
    "late_delivery",
    "better_price_elsewhere",
)
SOCIAL_NETWORKS: tuple[str, ...] = ("instagram", "facebook", "x", "pinterest", "whatsapp", "tiktok")

# Survey comments: an opener carries the sentiment, a detail adds context of the same tone.
COMMENT_OPENERS: dict[str, dict[str, tuple[str, ...]]] = {
    "fr": {
        "positive": (
            "Très satisfaite, merci !",
            "Excellente expérience.",
            "Rien à redire,",
            "Je recommande sans hésiter :",
            "Toujours un plaisir,",
            "Service impeccable.",
        ),
        "neutral": (
            "Correct dans l'ensemble.",
            "Expérience moyenne,",
            "Ni bien ni mal.",
            "Ça dépend des fois,",
            "Pas de surprise,",
        ),
        "negative": (
            "Très déçu.",
            "Expérience décevante :",
            "Je ne recommande pas,",
            "Franchement pas à la hauteur.",
            "Inadmissible,",
            "Plus jamais,",
        ),
    },
    "en": {
        "positive": (
            "Really happy, thank you!",
            "Excellent experience.",
            "Nothing to complain about,",
            "I would recommend it to anyone:",
            "Always a pleasure,",
            "Spotless service.",
        ),
        "neutral": (
            "Fine overall.",
            "An average experience,",
            "Neither good nor bad.",
            "It depends on the day,",
            "No surprises,",
        ),
        "negative": (
            "Very disappointed.",
            "A disappointing experience:",
            "I would not recommend it,",
            "Honestly not good enough.",
            "Unacceptable,",
            "Never again,",
        ),
    },
}
COMMENT_DETAILS: dict[str, dict[str, tuple[str, ...]]] = {
    "fr": {
        "positive": (
            "la livraison a été rapide.",
            "le personnel du magasin est adorable.",
            "les points fidélité sont vraiment utiles.",
            "les produits sont de très bonne qualité.",
            "l'application est simple à utiliser.",
            "le retour a été remboursé en deux jours.",
        ),
        "neutral": (
            "la livraison était dans les temps.",
            "les prix sont dans la moyenne.",
            "le choix en magasin pourrait être plus large.",
            "l'application fait le travail.",
            "le programme de fidélité est classique.",
        ),
        "negative": (
            "ma commande est arrivée avec une semaine de retard.",
            "le service client ne répond jamais.",
            "mes points ont disparu sans explication.",
            "l'article était abîmé à la réception.",
            "le remboursement traîne depuis un mois.",
            "l'application plante au moment de payer.",
        ),
    },
    "en": {
        "positive": (
            "delivery was quick.",
            "the store staff are lovely.",
            "the loyalty points are genuinely useful.",
            "the products are great quality.",
            "the app is easy to use.",
            "my return was refunded in two days.",
        ),
        "neutral": (
            "delivery arrived on time.",
            "prices are about average.",
            "the range in store could be wider.",
            "the app does the job.",
            "the loyalty scheme is standard.",
        ),
        "negative": (
            "my order arrived a week late.",
            "customer service never answers.",
            "my points vanished without explanation.",
            "the item was damaged on arrival.",
            "my refund has been pending for a month.",
            "the app crashes at checkout.",
        ),
    },
}

REVIEW_TITLES: dict[str, dict[str, tuple[str, ...]]] = {
    "fr": {
        "positive": ("Parfait", "Je recommande", "Très bon achat", "Super qualité", "Ravie"),
        "neutral": ("Correct", "Sans plus", "Bon rapport qualité-prix", "Conforme"),
        "negative": ("Déçu", "Mauvaise qualité", "À éviter", "Pas conforme", "Cassé"),
    },
    "en": {
        "positive": ("Perfect", "Highly recommend", "Great buy", "Lovely quality", "Delighted"),
        "neutral": ("Okay", "Does the job", "Fair value", "As described"),
        "negative": ("Disappointed", "Poor quality", "Avoid", "Not as described", "Broke"),
    },
}
REVIEW_BODIES: dict[str, dict[str, tuple[str, ...]]] = {
    "fr": {
        "positive": (
            "Exactement ce que je cherchais, je rachèterai.",
            "Très bonne qualité pour le prix, arrivé vite.",
            "Offert en cadeau, grand succès !",
            "Solide et joli, rien à redire.",
        ),
        "neutral": (
            "Fait ce qu'on attend, sans plus.",
            "Correct mais un peu cher.",
            "La taille est juste, sinon ça va.",
        ),
        "negative": (
            "S'est abîmé au bout d'une semaine.",
            "Rien à voir avec la photo, je l'ai retourné.",
            "Qualité médiocre, je suis déçue.",
            "Reçu incomplet et service client injoignable.",
        ),
    },
    "en": {
        "positive": (
            "Exactly what I was after, will buy again.",
            "Great quality for the price, arrived fast.",
            "Bought as a gift and it was a hit!",
            "Sturdy and good looking, no complaints.",
        ),
        "neutral": (
            "Does what it says, nothing more.",
            "Fine but a bit pricey.",
            "Sizing is a little tight, otherwise fine.",
        ),
        "negative": (
            "Fell apart after a week.",
            "Nothing like the picture, sent it back.",
            "Poor quality, really disappointed.",
            "Arrived incomplete and support never replied.",
        ),
    },
}

PRODUCT_ADJECTIVES: tuple[str, ...] = _words(
    """
    Classic Essential Urban Nordic Organic Premium Everyday Vintage Compact Deluxe Natural Smart
    Soft Bold Light Pro
    """
)

# Per category: invented brand names and product nouns (the catalogue is in English).
PRODUCT_BRANDS: dict[str, tuple[str, ...]] = {
    "fashion": ("Maison Lune", "Northfold", "Atelier Brume", "Kestrel & Co", "Velours"),
    "beauty": ("Lumière Pure", "Sable Rose", "Fernleaf", "Éclat", "Dewdrop Lab"),
    "home": ("Casa Nova", "Hearthly", "Lin & Bois", "Nordvik", "Maison Grise"),
    "grocery": ("Terroir Doux", "Good Acre", "Petit Marché", "Harvest Lane", "Les Vergers"),
    "electronics": ("Voltaic", "Pixelon", "Ampère", "Quanta", "Sonaris"),
    "books": ("Éditions du Quai", "Inkwell Press", "Papier Libre", "Lantern Books"),
    "sports": ("Stridex", "Altitude", "Cap Sud", "Peakline", "Vélocité"),
    "toys": ("Tiny Giants", "Jouets Malins", "Bramble Toys", "Pop & Play"),
    "shoes": ("Pas de Loup", "Trailmark", "Semelle", "Cobble & Lace", "Runa"),
    "accessories": ("Boucle", "Ashgrove", "Ficelle", "Meridian", "Petite Maille"),
    "kitchen": ("Cuisson", "Copperpot", "Le Fouet", "Saltbox", "Brasero"),
    "garden": ("Jardin Vert", "Greenhaven", "Sécateur", "Moss & Stone"),
    "gift_card": ("Fidela Demo",),
}
PRODUCT_NOUNS: dict[str, tuple[str, ...]] = {
    "fashion": (
        "T-shirt",
        "Shirt",
        "Jumper",
        "Cardigan",
        "Dress",
        "Skirt",
        "Jeans",
        "Chinos",
        "Jacket",
        "Coat",
        "Hoodie",
        "Blouse",
        "Shorts",
        "Pyjamas",
    ),
    "beauty": (
        "Face Cream",
        "Serum",
        "Lipstick",
        "Mascara",
        "Shampoo",
        "Conditioner",
        "Body Lotion",
        "Eau de Parfum",
        "Nail Polish",
        "Cleanser",
        "Sun Cream",
    ),
    "home": (
        "Cushion",
        "Throw",
        "Lamp",
        "Vase",
        "Candle",
        "Mirror",
        "Rug",
        "Bedding Set",
        "Towel Set",
        "Picture Frame",
        "Curtains",
        "Storage Box",
    ),
    "grocery": (
        "Coffee Beans",
        "Green Tea",
        "Olive Oil",
        "Dark Chocolate",
        "Honey",
        "Pasta",
        "Jam",
        "Biscuits",
        "Granola",
        "Sparkling Water",
        "Red Wine",
        "Cheese Selection",
    ),
    "electronics": (
        "Headphones",
        "Earbuds",
        "Speaker",
        "Smartwatch",
        "Tablet",
        "Charger",
        "Power Bank",
        "Keyboard",
        "Mouse",
        "Camera",
        "E-reader",
        "Monitor",
    ),
    "books": (
        "Novel",
        "Cookbook",
        "Travel Guide",
        "Comic",
        "Biography",
        "Children's Book",
        "Atlas",
        "Poetry Collection",
        "Thriller",
        "Notebook",
    ),
    "sports": (
        "Yoga Mat",
        "Running Top",
        "Water Bottle",
        "Dumbbells",
        "Tennis Racket",
        "Bike Helmet",
        "Backpack",
        "Leggings",
        "Swim Goggles",
        "Football",
    ),
    "toys": (
        "Puzzle",
        "Building Set",
        "Plush Bear",
        "Board Game",
        "Doll",
        "Toy Car",
        "Kite",
        "Art Kit",
        "Train Set",
    ),
    "shoes": (
        "Trainers",
        "Boots",
        "Sandals",
        "Loafers",
        "Ballet Flats",
        "Running Shoes",
        "Slippers",
        "Hiking Boots",
        "Espadrilles",
    ),
    "accessories": (
        "Scarf",
        "Belt",
        "Wallet",
        "Sunglasses",
        "Handbag",
        "Watch",
        "Cap",
        "Gloves",
        "Earrings",
        "Umbrella",
    ),
    "kitchen": (
        "Frying Pan",
        "Saucepan",
        "Knife Set",
        "Chopping Board",
        "Mug Set",
        "Teapot",
        "Blender",
        "Kettle",
        "Casserole Dish",
        "Utensil Set",
    ),
    "garden": (
        "Planter",
        "Watering Can",
        "Seed Kit",
        "Garden Chair",
        "Hose",
        "Lantern",
        "Pruner",
        "Bird Feeder",
        "Gloves",
    ),
    "gift_card": ("Gift Card",),
}

SIGNUP_CHANNELS: tuple[str, ...] = ("store", "web", "app")
ORDER_CHANNELS: tuple[str, ...] = ("store", "web", "app")
SESSION_CHANNELS: tuple[str, ...] = ("web", "app")
PREFERRED_CHANNELS: tuple[str, ...] = ("email", "sms", "push", "in_app", "postal")
PAYMENT_METHODS: tuple[str, ...] = ("card", "points", "card+points")
SURVEYS: tuple[str, ...] = ("nps", "csat", "exit")
FRAUD_PATTERNS: tuple[str, ...] = ("points_farming", "self_referral_ring", "account_takeover")
