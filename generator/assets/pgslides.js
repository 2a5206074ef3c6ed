/* pgslides: presentation mode for deck pages (filled in by the presenting work). */
"use strict";
