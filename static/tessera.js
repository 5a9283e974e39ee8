// Tessera: tell the server the visitor's time zone (for the local daypart).
// Optional: every page works without it.
(function () {
  try {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!tz || !/^[A-Za-z0-9_+\-\/]{1,64}$/.test(tz)) return;
    var m = document.cookie.match(/(?:^|;\s*)tz=([^;]*)/);
    if (m && m[1] === tz) return;
    document.cookie = "tz=" + tz + "; path=/; max-age=31536000; SameSite=Lax";
  } catch (e) {}
})();
