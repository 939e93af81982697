/** Page sizes of history, the same over WebSocket and HTTP and in every Store. */

/** Messages in one history page when the client does not say. */
export const HISTORY_PAGE_DEFAULT = 50;
/** The most messages a client may ask for in one history page. */
export const HISTORY_PAGE_MAX = 100;
/** The most messages one Store history call returns, whatever the caller asks for (replay pages). */
export const STORE_HISTORY_MAX = 1000;

/** Search results in one page when the client does not say. */
export const SEARCH_PAGE_DEFAULT = 20;
/** The most search results a client may ask for in one page. */
export const SEARCH_PAGE_MAX = 100;
/** The longest search query, in UTF-16 code units. */
export const SEARCH_QUERY_MAX = 200;
