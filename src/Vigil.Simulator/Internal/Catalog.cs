namespace Vigil.Simulator.Internal;

/// <summary>Fixed word lists the population and its traffic are drawn from.</summary>
internal static class Catalog
{
    public static readonly string[] FirstNames =
    [
        "james", "mary", "john", "patricia", "robert", "jennifer", "michael", "linda", "william", "elizabeth",
        "david", "barbara", "richard", "susan", "joseph", "jessica", "thomas", "sarah", "charles", "karen",
        "maria", "jose", "ana", "luis", "carlos", "sofia", "lucas", "julia", "mateo", "valentina",
        "emma", "liam", "olivia", "noah", "ava", "elijah", "mia", "oliver", "amelia", "leo",
        "hannah", "lukas", "lena", "felix", "anna", "paul", "marie", "jonas", "laura", "tim",
        "yuki", "haruto", "sakura", "ren", "minjun", "seoyeon", "wei", "li", "jing", "arjun",
        "priya", "rahul", "ananya", "vikram", "aisha", "omar", "fatima", "ahmed", "chidi", "ngozi",
        "ivan", "olga", "dmitri", "anastasia", "mehmet", "elif", "pierre", "camille", "giulia", "marco",
    ];

    public static readonly string[] LastNames =
    [
        "smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "rodriguez", "martinez",
        "hernandez", "lopez", "gonzalez", "wilson", "anderson", "taylor", "thomas", "moore", "jackson", "martin",
        "lee", "thompson", "white", "harris", "clark", "lewis", "walker", "young", "allen", "king",
        "muller", "schmidt", "schneider", "fischer", "weber", "meyer", "wagner", "becker", "dubois", "bernard",
        "rossi", "russo", "ferrari", "silva", "santos", "oliveira", "souza", "tanaka", "suzuki", "sato",
        "kim", "park", "choi", "wang", "zhang", "chen", "liu", "patel", "sharma", "singh",
        "khan", "ali", "okafor", "adeyemi", "ivanov", "petrov", "yilmaz", "kaya", "nowak", "kowalski",
    ];

    public static readonly string[] EmailDomains =
    [
        "gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me", "hotmail.com", "gmx.de", "web.de",
        "orange.fr", "libero.it", "naver.com", "qq.com", "yandex.ru", "mail.com", "fastmail.com",
    ];

    /// <summary>Desktop browsers (first) and phones (second) real users hold; one pool so devices stay plausible.</summary>
    public static readonly string[] DesktopAgents =
    [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:132.0) Gecko/20100101 Firefox/132.0",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    ];

    public static readonly string[] MobileAgents =
    [
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.39 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.6723.102 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 13; SM-A536B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 14; 23127PN0CG) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.6668.100 Mobile Safari/537.36",
        "VigilShop/5.12.1 (iPhone; iOS 18.1; Scale/3.00)",
        "VigilShop/5.12.0 (iPhone; iOS 17.6; Scale/3.00)",
        "VigilShop/5.11.4 (Android 14; Pixel 7a; okhttp/4.12.0)",
        "VigilShop/5.12.1 (Android 13; SM-G991B; okhttp/4.12.0)",
    ];

    /// <summary>Tools attackers script with, and browsers they spoof (often outdated).</summary>
    public static readonly string[] AttackerAgents =
    [
        "python-requests/2.31.0",
        "python-requests/2.28.1",
        "curl/8.4.0",
        "Go-http-client/1.1",
        "okhttp/4.9.3",
        "axios/1.6.2",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.109 Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/91.0.4472.124 Safari/537.36",
        "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/79.0.3945.88 Safari/537.36",
        "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)",
    ];

    public static readonly string[] ScraperAgents =
    [
        "Scrapy/2.11.0 (+https://scrapy.org)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/121.0.6167.85 Safari/537.36",
        "python-httpx/0.25.2",
        "Mozilla/5.0 (compatible; DataForSeoBot/1.0; +https://dataforseo.com/dataforseo-bot)",
    ];

    public static readonly string[] SearchQueries =
    [
        "running shoes", "wireless earbuds", "usb-c charger", "coffee grinder", "rain jacket", "yoga mat",
        "mechanical keyboard", "standing desk", "air fryer", "kids backpack", "winter boots", "phone case",
        "4k monitor", "espresso machine", "gift card", "board games", "hiking socks", "led desk lamp",
        "bluetooth speaker", "water bottle", "sunglasses", "laptop sleeve", "vitamin d", "dog food",
        "noise cancelling headphones", "electric toothbrush", "sofa cover", "office chair", "travel adapter", "smart watch",
    ];

    public static readonly string[] Pages =
    [
        "/", "/home", "/deals", "/cart", "/account", "/orders", "/wishlist", "/help", "/category/electronics",
        "/category/home", "/category/fashion", "/category/sports", "/category/books", "/category/toys",
    ];

    public static readonly string[] ProfileFields = ["displayName", "avatar", "address", "phone", "language", "newsletter"];

    /// <summary>Account names attackers try that nobody registered.</summary>
    public static readonly string[] UnknownAccounts =
    [
        "admin", "administrator", "root", "test", "test1", "guest", "support", "info", "sales", "demo",
        "user", "webmaster", "postmaster", "backup", "oracle", "ftp", "operator", "manager", "staff", "service",
    ];

    public static readonly string[] Currencies = ["USD", "EUR", "GBP"];
}
