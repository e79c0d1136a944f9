{% include "shared/javascript/build-layer.sh" -%}
