/**
 * Drawing the table. Every name comes from other people, so text goes in through
 * `textContent`, never as HTML.
 */
import { CARDS, type Card, type GameMeta } from './protocol.js'

export interface Person {
  key: string
  name: string
  voted: boolean
  vote: Card | null
}

/** A card as shown: the coffee cup asks for its emoji form (U+FE0F), not the text glyph. */
export function faceOf(card: Card): string {
  return card === '☕' ? '☕\uFE0F' : card
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (text !== undefined) node.textContent = text
  return node
}

/** What a seat's card shows, and the words a screen reader hears for it. */
function seatState(person: Person, revealed: boolean) {
  if (revealed && person.vote !== null) {
    return { state: 'shown', face: faceOf(person.vote), words: `voted ${person.vote}` }
  }
  if (revealed) return { state: 'empty', face: '–', words: 'did not vote' }
  if (person.voted) return { state: 'hidden', face: '✓', words: 'voted' }
  return { state: 'empty', face: '', words: 'thinking…' }
}

/** Updates the seats in place, keyed by participant, so cards flip only when they change. */
export function drawPeople(
  list: HTMLElement,
  people: Person[],
  game: GameMeta | undefined,
  me: string,
) {
  const revealed = game?.phase === 'revealed'
  const seats = new Map<string, HTMLElement>()
  for (const child of Array.from(list.children) as HTMLElement[]) {
    seats.set(child.dataset.key!, child)
  }

  people.forEach((person, index) => {
    const seat = seats.get(person.key) ?? newSeat(person.key)
    seats.delete(person.key)
    const { state, face, words } = seatState(person, revealed)
    const card = seat.querySelector<HTMLElement>('.played')!
    if (card.dataset.state !== state || card.textContent !== face) {
      card.dataset.state = state
      card.textContent = face
    }
    seat.querySelector('.name')!.textContent = person.name
    seat.querySelector('.state')!.textContent = words
    seat.toggleAttribute('data-you', person.key === me)
    if (list.children[index] !== seat) list.insertBefore(seat, list.children[index] ?? null)
  })
  for (const stale of seats.values()) stale.remove()
}

function newSeat(key: string): HTMLElement {
  const seat = element('li', 'seat')
  seat.dataset.key = key
  const card = element('div', 'played')
  card.setAttribute('aria-hidden', 'true')
  const who = element('div', 'who')
  who.append(element('span', 'name'), element('span', 'state'))
  seat.append(card, who)
  return seat
}

/** The deck: one toggle button per card. */
export function drawHand(hand: HTMLElement, onPick: (card: Card) => void): void {
  for (const card of CARDS) {
    const button = element('button', undefined, faceOf(card))
    button.type = 'button'
    button.dataset.card = card
    button.setAttribute('aria-pressed', 'false')
    if (card === '☕') button.setAttribute('aria-label', 'Coffee break')
    if (card === '?') button.setAttribute('aria-label', 'Not sure')
    button.addEventListener('click', () => onPick(card))
    hand.append(button)
  }
}

export function updateHand(hand: HTMLElement, picked: Card | null, voting: boolean): void {
  for (const button of Array.from(hand.querySelectorAll<HTMLButtonElement>('button'))) {
    button.setAttribute('aria-pressed', String(button.dataset.card === picked))
    button.disabled = !voting
  }
}

/** After a reveal: the average of the numeric cards, agreement, and a tally. */
export function drawSummary(box: HTMLElement, people: Person[], game: GameMeta | undefined) {
  const votes = people.flatMap((person) => (person.vote === null ? [] : [person.vote]))
  box.hidden = game?.phase !== 'revealed'
  box.replaceChildren()
  if (box.hidden) return
  if (votes.length === 0) {
    box.append(element('span', 'stat', 'Nobody voted this round.'))
    return
  }
  const numbers = votes.map(Number).filter((value) => Number.isFinite(value))
  if (numbers.length > 0) {
    const average = numbers.reduce((sum, value) => sum + value, 0) / numbers.length
    box.append(element('span', 'stat', `Average ${formatNumber(average)}`))
  }
  if (votes.length > 1 && votes.every((vote) => vote === votes[0])) {
    box.append(element('span', 'stat', 'Consensus! 🎉'))
  }
  const tally = element('ul', 'tally')
  tally.setAttribute('aria-label', 'Votes per card')
  for (const card of CARDS) {
    const count = votes.filter((vote) => vote === card).length
    if (count > 0) tally.append(element('li', undefined, `${faceOf(card)} × ${count}`))
  }
  box.append(tally)
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1)
}
