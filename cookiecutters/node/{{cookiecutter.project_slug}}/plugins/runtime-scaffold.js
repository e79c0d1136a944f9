{% include "shared/runtime-scaffold-plugin.js" -%}
